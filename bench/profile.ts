/**
 * Where a cold pull + archive spends its time: a loopback registry holding four images of
 * 155 MiB (one 100, one 50 and one 5 MiB layer each), a cold `pull --archive` and a warm
 * `archive` under `node --cpu-prof`, set against `cat` of the same blobs and curl of them from the
 * registry (its own limit). Every timed run starts after `sync`. Prints wall and CPU seconds and the
 * main thread's time by category. Run with `npm run bench:profile`.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRegistry } from '../__tests__/harness/registry-server.js';
import { buildImage, makeLayer, pushImage } from '../__tests__/harness/test-images.js';
import { profileTable, summariseProfile } from './cpu-profile.js';
import { settle, timed, type Measure } from './measure.js';
import { curlBlobs, layoutBlobs } from './registry-blobs.js';

const root = resolve(new URL('..', import.meta.url).pathname, '..');
const CLI = process.env.BENCH_CLI ?? join(root, 'dist', 'cli', 'index.js');
const MB = 1024 * 1024;
const ARM64 = { os: 'linux', architecture: 'arm64' };

const line = (label: string, m: Measure) =>
  `| ${label} | ${m.seconds.toFixed(2)} | ${(m.cpuSeconds ?? 0).toFixed(2)} | ${(m.rssKiB / 1024).toFixed(0)} |`;

/** Runs the CLI under --cpu-prof and returns its measure and its profile's table. */
async function profiled(
  work: string,
  warm: string,
  name: string,
  args: string[],
): Promise<[Measure, string]> {
  const dir = join(work, `profile-${name}`);
  mkdirSync(dir, { recursive: true });
  await settle(warm);
  const measure = await timed(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, CLI, ...args]);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) as string;
  return [measure, profileTable(summariseProfile(join(dir, file)))];
}

async function main() {
  const work = join(tmpdir(), `cache-images-bench-profile-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const registry = await startRegistry();
  try {
    process.stderr.write('profile: building and pushing 4 images...\n');
    const refs: string[] = [];
    for (let n = 0; n < 4; n++) {
      const sizes = [100 * MB, 50 * MB, 5 * MB];
      const image = buildImage({
        seed: `profile-${n}`,
        platforms: [ARM64],
        ownLayers: 0,
        base: () => sizes.map((size, i) => makeLayer(`profile-${n}-${i}`, size, 'oci', 'gzip', 0)),
      });
      await pushImage(registry.host, `profile/app${n}`, '1', image);
      refs.push(`${registry.host}/profile/app${n}:1`);
    }
    const layout = join(work, 'layout');
    const select = [...refs.flatMap((r) => ['--image', r]), '--platform', 'linux/arm64'];
    const archive = join(work, 'images.tar');
    const [cold, coldTable] = await profiled(work, registry.storageDir, 'cold', [
      'pull',
      ...select,
      '--layout',
      layout,
      '--archive',
      archive,
    ]);
    rmSync(archive);
    const [warm, warmTable] = await profiled(work, registry.storageDir, 'archive', [
      'archive',
      '--layout',
      layout,
      '--archive',
      archive,
    ]);
    const storage = join(registry.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256');
    const files = readdirSync(join(layout, 'blobs', 'sha256')).map((h) =>
      join(storage, h.slice(0, 2), h, 'data'),
    );
    await settle(registry.storageDir);
    const cat = await timed('sh', ['-c', `cat ${files.join(' ')} > ${join(work, 'cat.out')}`]);
    rmSync(join(work, 'cat.out'), { force: true });
    await settle(registry.storageDir);
    const curl = await curlBlobs(registry.host, layoutBlobs(layout, ARM64), work);
    process.stdout.write(
      [
        `Profile: 4 images, 620 MiB of blobs, loopback registry, ${new Date().toISOString().slice(0, 10)}, ${process.version}`,
        '',
        '| run | wall s | CPU s (user + sys) | peak RSS MiB |',
        '| --- | --- | --- | --- |',
        line('cache-images pull --archive, cold', cold),
        line('cache-images archive (the second copy alone)', warm),
        line('cat of the same blobs from registry storage', cat),
        line('curl of the same blobs from the registry, 8 at once, to files', curl),
        '',
        '#### cold pull + archive',
        coldTable,
        '',
        '#### archive from a complete layout',
        warmTable,
        '',
      ].join('\n'),
    );
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
