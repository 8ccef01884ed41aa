/**
 * Benchmark: cache-images against skopeo (as users script it, sequential and 8 in parallel) and
 * against the limits (cat of the registry's files, curl of the same blobs from the registry, tar
 * of the layout), on a loopback registry holding a pallet-like set of images. Every timed run
 * starts after `sync`. Run with `npm run bench`; prints a table.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRegistry } from '../__tests__/harness/registry-server.js';
import {
  buildImage,
  makeLayer,
  pushImage,
  type TestImage,
  type TestLayer,
  type TestPlatform,
} from '../__tests__/harness/test-images.js';
import { dirBytes, median, parallel, settle, timed, type Measure } from './measure.js';
import { curlBlobs, layoutBlobs } from './registry-blobs.js';

const root = resolve(new URL('..', import.meta.url).pathname, '..');
const CLI = join(root, 'dist', 'cli', 'index.js');
const MB = 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PLATFORMS: TestPlatform[] = [
  { os: 'linux', architecture: 'arm64' },
  { os: 'linux', architecture: 'amd64' },
];

async function main() {
  const work = join(tmpdir(), `cache-images-bench-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const registry = await startRegistry();
  try {
    // A pallet-like set: 12 images over three shared bases, ~1 GB of unique blobs per platform.
    process.stderr.write('building and pushing test images...\n');
    const layer = (seed: string, size: number) => makeLayer(seed, size, 'oci', 'gzip', 0);
    const bases = new Map<string, TestLayer[]>();
    const base = (name: string, count: number, size: number) => (p: TestPlatform) => {
      const key = `${name}-${p.architecture}`;
      if (!bases.has(key))
        bases.set(
          key,
          Array.from({ length: count }, (_, i) => layer(`${key}-${i}`, size)),
        );
      return bases.get(key) as TestLayer[];
    };
    const shapes = [base('a', 2, 150 * MB), base('b', 3, 60 * MB), base('c', 1, 200 * MB)];
    const refs: string[] = [];
    for (let n = 0; n < 12; n++) {
      // Own layers are built here too, at gzip level 0 like the bases.
      const own = (p: TestPlatform) => [
        ...(shapes[n % 3]?.(p) ?? []),
        layer(`bench-${n}-${p.architecture}-own`, 25 * MB),
      ];
      const full: TestImage = buildImage({
        seed: `bench-${n}`,
        base: own,
        platforms: PLATFORMS,
        ownLayers: 0,
      });
      await pushImage(registry.host, `bench/app${n}`, '1', full);
      refs.push(`${registry.host}/bench/app${n}:1`);
    }
    bases.clear();
    const big = buildImage({
      seed: 'bench-big',
      platforms: [PLATFORMS[0] as TestPlatform],
      ownLayers: 0,
      base: () => [layer('bench-big-1g', 1024 * MB)],
    });
    await pushImage(registry.host, 'bench/big', '1', big);
    const quarter = buildImage({
      seed: 'bench-quarter',
      platforms: [PLATFORMS[0] as TestPlatform],
      ownLayers: 0,
      base: () => [layer('bench-quarter-256m', 256 * MB)],
    });
    await pushImage(registry.host, 'bench/quarter', '1', quarter);

    const results: Record<string, Measure[]> = {
      a: [],
      b: [],
      c: [],
      d: [],
      cat: [],
      curl: [],
      tar: [],
      f: [],
    };
    let bytes = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round} of ${ROUNDS}\n`);
      const L = join(work, 'layout');
      const A = join(work, 'images.tar');
      rmSync(L, { recursive: true, force: true });
      rmSync(A, { force: true });
      // (a) cold pull + archive, (b) warm: the layout is complete, archive writing only.
      const layoutArgs = [
        CLI,
        'pull',
        ...refs.flatMap((r) => ['--image', r]),
        '--platform',
        'linux/arm64',
        '--layout',
        L,
      ];
      const pullArgs = [...layoutArgs, '--archive', A];
      // sync first, before every timed run: else it pays for writing back the previous run's dirty pages.
      await settle(registry.storageDir);
      results.a?.push(await timed(process.execPath, pullArgs));
      bytes = dirBytes(join(L, 'blobs'));
      rmSync(A, { force: true });
      await settle(registry.storageDir);
      results.b?.push(await timed(process.execPath, pullArgs));
      // (f) cold pull, layout only: (a) less this is the archive's share.
      rmSync(L, { recursive: true, force: true });
      rmSync(A, { force: true });
      await settle(registry.storageDir);
      results.f?.push(await timed(process.execPath, layoutArgs));

      // (c) skopeo per image, one after another, as scripts do; (d) the same 8 at a time.
      for (const [name, limit] of [
        ['c', 1],
        ['d', 8],
      ] as const) {
        const sharedLayout = join(work, `skopeo-${name}`);
        const SA = join(work, `skopeo-${name}-archives`);
        for (const e of readdirSync(work))
          if (e.startsWith(`skopeo-${name}`)) rmSync(join(work, e), { recursive: true, force: true });
        rmSync(SA, { recursive: true, force: true });
        mkdirSync(SA, { recursive: true });
        // Once before the row, not between images: a sync inside the timed span would be timed too.
        await settle(registry.storageDir);
        const started = Date.now();
        let rss = 0;
        await parallel(refs, limit, async (ref) => {
          const tag = ref.replace(/.*\/(app\d+):1$/, '$1');
          // Parallel jobs cannot share one OCI layout (concurrent index.json writes lose
          // entries), so each gets its own, as GNU parallel scripts do.
          const SL = limit === 1 ? sharedLayout : join(work, `skopeo-${name}-${tag}`);
          const copy = ['copy', '--insecure-policy', '--src-tls-verify=false', '--override-arch', 'arm64'];
          const m1 = await timed('skopeo', [...copy, `docker://${ref}`, `oci:${SL}:${tag}`]);
          const m2 = await timed('skopeo', [
            'copy',
            '--insecure-policy',
            `oci:${SL}:${tag}`,
            `docker-archive:${join(SA, `${tag}.tar`)}:${ref}`,
          ]);
          rss = Math.max(rss, m1.rssKiB, m2.rssKiB);
        });
        results[name]?.push({ seconds: (Date.now() - started) / 1000, rssKiB: rss });
        // Gigabytes of skopeo's layouts and archives left in the page cache slowed every later run
        // (cat of the same blobs took 1.84 s after them, 0.3 s without): they go once measured.
        for (const e of readdirSync(work))
          if (e.startsWith(`skopeo-${name}`)) rmSync(join(work, e), { recursive: true, force: true });
      }

      // (e) the limits: cat of the same blobs from the registry's storage, curl of them from the
      // registry (configs and layers, 8 at once, to files), tar of the layout.
      const storage = join(registry.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256');
      const files = readdirSync(join(L, 'blobs', 'sha256')).map((h) =>
        join(storage, h.slice(0, 2), h, 'data'),
      );
      await settle(registry.storageDir);
      results.cat?.push(await timed('sh', ['-c', `cat ${files.join(' ')} > ${join(work, 'cat.out')}`]));
      rmSync(join(work, 'cat.out'), { force: true });
      const blobs = layoutBlobs(L, PLATFORMS[0] as TestPlatform);
      await settle(registry.storageDir);
      results.curl?.push(await curlBlobs(registry.host, blobs, work));
      await settle(registry.storageDir);
      results.tar?.push(await timed('tar', ['-cf', join(work, 'layout.tar'), '-C', L, '.']));
      rmSync(join(work, 'layout.tar'), { force: true });
    }

    // Peak memory against layer size: a 256 MiB and a 1 GiB layer, pulled cold with an archive.
    const memory: Record<string, Measure> = {};
    for (const [name, ref] of [
      ['256 MiB layer', `${registry.host}/bench/quarter:1`],
      ['1 GiB layer', `${registry.host}/bench/big:1`],
    ] as const) {
      const L = join(work, `mem-${name.split(' ')[0]}`);
      rmSync(L, { recursive: true, force: true });
      await settle(registry.storageDir);
      memory[name] = await timed(process.execPath, [
        CLI,
        'pull',
        '--image',
        ref,
        '--platform',
        'linux/arm64',
        '--layout',
        L,
        '--archive',
        `${L}.tar`,
      ]);
      rmSync(L, { recursive: true, force: true });
      rmSync(`${L}.tar`, { force: true });
    }

    const row = (label: string, key: string) => {
      const m = results[key] as Measure[];
      const s = median(m.map((x) => x.seconds));
      const rss = Math.max(...m.map((x) => x.rssKiB));
      return {
        label,
        s,
        rss,
        line: `| ${label} | ${s.toFixed(2)} | ${(bytes / MB / s).toFixed(0)} | ${(rss / 1024).toFixed(0)} |`,
      };
    };
    const rows = [
      row('(a) cache-images pull, cold (pull + archive)', 'a'),
      row('(b) cache-images pull, warm (archive only)', 'b'),
      row('(c) skopeo per image, sequential', 'c'),
      row('(d) skopeo per image, 8 in parallel', 'd'),
      row('(e) cat of the same blobs from registry storage', 'cat'),
      row('(e) curl of the same blobs from the registry, 8 at once, to files', 'curl'),
      row('(e) tar -cf of the layout', 'tar'),
      row('(f) cache-images pull, cold, layout only (no --archive)', 'f'),
    ];
    const [a, b, c, d, cat, curl, tar] = rows.map((r) => r.s) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const out = [
      `Benchmark: 12 images, ${(bytes / MB).toFixed(0)} MiB of blobs for linux/arm64 (both platforms pushed), loopback registry, median of ${ROUNDS} rounds, ${new Date().toISOString().slice(0, 10)}, ${process.version}`,
      '',
      '| run | wall s | MiB/s | peak RSS MiB |',
      '| --- | --- | --- | --- |',
      ...rows.map((r) => r.line),
      '',
      '| ratio | value | target |',
      '| --- | --- | --- |',
      `| (a)/(c) | ${(a / c).toFixed(2)} | <= 0.5 ${a / c <= 0.5 ? 'met' : 'MISSED'} |`,
      `| (a)/(d) | ${(a / d).toFixed(2)} | <= 1.0 ${a / d <= 1 ? 'met' : 'MISSED'} |`,
      `| (b)/(e tar) | ${(b / tar).toFixed(2)} | <= 1.5 ${b / tar <= 1.5 ? 'met' : 'MISSED'} |`,
      `| (a)/(e cat) | ${(a / cat).toFixed(2)} | <= 1.5 ${a / cat <= 1.5 ? 'met' : 'MISSED'} |`,
      `| (a)/(e curl) | ${(a / curl).toFixed(2)} | (how far from the registry's limit) |`,
      '',
      '| peak RSS of a cold pull + archive | MiB | wall s |',
      '| --- | --- | --- |',
      ...Object.entries(memory).map(
        ([k, m]) => `| ${k} | ${(m.rssKiB / 1024).toFixed(0)} | ${m.seconds.toFixed(2)} |`,
      ),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
