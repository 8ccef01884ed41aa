/**
 * Benchmark over a realistic network: a TLS registry behind a proxy that adds round-trip delay
 * and caps bandwidth, holding a pallet's worth of Docker Hub-like images. It runs cache-images
 * (`key`, a cold and a warm `pull`) and skopeo (per image, sequential and 8 in parallel) first
 * on plain loopback, then on the shaped link, and prints times, ratios, and the TCP connections
 * and TLS handshakes each made, counted at the proxy.
 *
 *   npm run bench:network -- --rtt 40 --mbit 200 --images 40 --rounds 1
 *   BENCH_CLI=/path/to/other/dist/cli/index.js npm run bench:network
 *   npm run bench:network -- --ca env     # trust the CA as a public one is trusted
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startRegistry, type TestRegistry } from '../__tests__/harness/registry-server.js';
import { startShapedProxy, type LinkCounts, type ShapeOptions } from '../__tests__/harness/shaped-proxy.js';
import { pushHubImages } from './hub-images.js';
import { dirBytes, median, parallel, timed } from './measure.js';

const root = resolve(new URL('..', import.meta.url).pathname, '..');
// BENCH_CLI compares another build (e.g. a branch's bundle) on the same images and link.
const CLI = process.env.BENCH_CLI ?? join(root, 'dist', 'cli', 'index.js');
const MB = 1024 * 1024;

const { values: flags } = parseArgs({
  options: {
    rtt: { type: 'string', default: '40' },
    mbit: { type: 'string', default: '200' },
    images: { type: 'string', default: '40' },
    rounds: { type: 'string', default: process.env.BENCH_NETWORK_ROUNDS ?? '1' },
    ca: { type: 'string', default: 'flag' },
  },
});
const RTT = Number(flags.rtt);
const MBIT = Number(flags.mbit);
const IMAGES = Number(flags.images);
const ROUNDS = Number(flags.rounds);
/**
 * How cache-images trusts the registry's certificate: `flag` (--ca-file) or `env`
 * (NODE_EXTRA_CA_CERTS, which costs what a public registry's CA costs: nothing per connection).
 */
if (flags.ca !== 'flag' && flags.ca !== 'env') throw new Error(`--ca must be flag or env, got ${flags.ca}`);
const CA_VIA_ENV = flags.ca === 'env';

interface Profile {
  name: string;
  shape: ShapeOptions;
}

interface Sample {
  seconds: number;
  link: LinkCounts;
}

const RUNS = ['key', 'cold', 'warm', 'skopeo1', 'skopeo8'] as const;
type Run = (typeof RUNS)[number];
const LABELS: Record<Run, string> = {
  key: 'cache-images key',
  cold: 'cache-images pull, cold',
  warm: 'cache-images pull, warm',
  skopeo1: 'skopeo copy per image, sequential',
  skopeo8: 'skopeo copy per image, 8 in parallel',
};

/** One round of every run through one proxy; each run's link counts start from zero. */
async function round(
  registry: TestRegistry,
  repos: string[],
  profile: Profile,
  work: string,
): Promise<Record<Run, Sample>> {
  const proxy = await startShapedProxy(registry.host, profile.shape);
  const ca = registry.caFile as string;
  const certDir = join(work, 'certs');
  mkdirSync(certDir, { recursive: true });
  // skopeo trusts every *.crt of the folder as a CA.
  copyFileSync(ca, join(certDir, 'ca.crt'));
  const refs = repos.map((r) => `${proxy.host}/${r}`);
  const images = refs.flatMap((r) => ['--image', r]);
  const layout = join(work, 'layout');
  const select = ['--platform', 'linux/arm64', ...(CA_VIA_ENV ? [] : ['--ca-file', ca])];
  const env = CA_VIA_ENV ? { NODE_EXTRA_CA_CERTS: ca } : {};
  const pull = [CLI, 'pull', ...images, ...select, '--layout', layout];
  const skopeo = (limit: number) => async () => {
    const dir = join(work, 'skopeo');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    await parallel(refs, limit, (ref) => {
      const tag = ref.replace(/.*\/([^/:]+):1$/, '$1');
      // Parallel jobs cannot share one OCI layout (concurrent index.json writes lose entries).
      const dest = limit === 1 ? dir : join(dir, tag);
      const args = ['copy', '--insecure-policy', '--src-cert-dir', certDir, '--override-arch', 'arm64'];
      return timed('skopeo', [...args, `docker://${ref}`, `oci:${dest}:${tag}`]);
    });
  };
  const steps: Record<Run, () => Promise<unknown>> = {
    key: () => timed(process.execPath, [CLI, 'key', ...images, ...select], env),
    cold: () => {
      rmSync(layout, { recursive: true, force: true });
      return timed(process.execPath, pull, env);
    },
    warm: () => timed(process.execPath, pull, env),
    skopeo1: skopeo(1),
    skopeo8: skopeo(8),
  };
  const samples = {} as Record<Run, Sample>;
  try {
    for (const run of RUNS) {
      proxy.reset();
      const started = performance.now();
      await steps[run]();
      samples[run] = { seconds: (performance.now() - started) / 1000, link: proxy.counts() };
      process.stderr.write(`  ${profile.name}: ${LABELS[run]} ${samples[run].seconds.toFixed(2)} s\n`);
    }
  } finally {
    await proxy.stop();
  }
  return samples;
}

/** Median seconds over the rounds, with the link counts of the last round. */
function summarise(rounds: Record<Run, Sample>[]): Record<Run, Sample> {
  const out = {} as Record<Run, Sample>;
  for (const run of RUNS) {
    const last = rounds.at(-1)?.[run] as Sample;
    out[run] = { seconds: median(rounds.map((r) => r[run].seconds)), link: last.link };
  }
  return out;
}

function report(results: Map<Profile, Record<Run, Sample>>, blobBytes: number, load: string): string {
  const [plain, shaped] = [...results.values()] as [Record<Run, Sample>, Record<Run, Sample>];
  const cell = (s: Sample) => `${s.seconds.toFixed(2)} | ${s.link.connections} | ${s.link.tlsHandshakes}`;
  const lineRate = MBIT ? (blobBytes * 8) / (MBIT * 1e6) : 0;
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  return [
    `Network benchmark: ${IMAGES} images, ${(blobBytes / MB).toFixed(0)} MiB of blobs for linux/arm64 (amd64 also pushed), TLS registry behind a TCP proxy, CA for cache-images ${CA_VIA_ENV ? 'from NODE_EXTRA_CA_CERTS' : 'from --ca-file'}, median of ${ROUNDS} round(s), ${new Date().toISOString().slice(0, 10)}, ${process.version}, load average ${load}`,
    '',
    `| run | loopback s | conns | TLS | ${RTT} ms RTT, ${MBIT} Mbit/s: s | conns | TLS | MiB received | shaped / loopback |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...RUNS.map(
      (run) =>
        `| ${LABELS[run]} | ${cell(plain[run])} | ${cell(shaped[run])} | ${(shaped[run].link.bytesDown / MB).toFixed(0)} | ${ratio(shaped[run].seconds, plain[run].seconds)} |`,
    ),
    '',
    '| ratio | loopback | shaped |',
    '| --- | --- | --- |',
    `| cold pull / skopeo sequential | ${ratio(plain.cold.seconds, plain.skopeo1.seconds)} | ${ratio(shaped.cold.seconds, shaped.skopeo1.seconds)} |`,
    `| cold pull / skopeo 8 in parallel | ${ratio(plain.cold.seconds, plain.skopeo8.seconds)} | ${ratio(shaped.cold.seconds, shaped.skopeo8.seconds)} |`,
    `| warm pull / cold pull | ${ratio(plain.warm.seconds, plain.cold.seconds)} | ${ratio(shaped.warm.seconds, shaped.cold.seconds)} |`,
    ...(lineRate
      ? [
          `| cold pull / line rate (${lineRate.toFixed(2)} s for the blobs) | | ${ratio(shaped.cold.seconds, lineRate)} |`,
        ]
      : []),
  ].join('\n');
}

async function main() {
  const work = join(tmpdir(), `cache-images-bench-network-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const registry = await startRegistry({ tls: true });
  try {
    process.stderr.write(`network bench: building and pushing ${IMAGES} images...\n`);
    const repos = await pushHubImages(registry.pushHost, IMAGES);
    const profiles: Profile[] = [
      { name: 'loopback', shape: {} },
      { name: 'shaped', shape: { rttMs: RTT, bitsPerSecond: MBIT * 1e6 } },
    ];
    const results = new Map<Profile, Record<Run, Sample>>();
    // Other work on the machine slows TLS handshakes most: say how busy it was.
    const load = () => (loadavg()[0] as number).toFixed(1);
    const loadBefore = load();
    let blobBytes = 0;
    for (const profile of profiles) {
      const rounds: Record<Run, Sample>[] = [];
      for (let n = 1; n <= ROUNDS; n++) {
        process.stderr.write(`${profile.name}, round ${n} of ${ROUNDS}\n`);
        rounds.push(await round(registry, repos, profile, work));
        blobBytes = dirBytes(join(work, 'layout', 'blobs'));
      }
      results.set(profile, summarise(rounds));
    }
    process.stdout.write(`${report(results, blobBytes, `${loadBefore} -> ${load()}`)}\n`);
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
