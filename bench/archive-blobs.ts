/**
 * Benchmark: the fixed cost of writing one blob into a docker-archive. Builds an OCI layout of
 * a few hundred small images on disk (no registry), then times `cache-images archive` writing
 * one archive of all of them in-process, against `tar -cf` of the same layout (which only
 * copies bytes). Prints the per-blob cost beyond copying and the ratio.
 * Run with `tsc -p bench/tsconfig.json && node .bench-build/bench/archive-blobs.js`
 * (IMAGES=400 ROUNDS=5 by default; BENCH_LAYOUT=DIR keeps the layout there).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeLayout } from '../__tests__/harness/layout-files.js';
import { baseLayers, buildImage, type TestImage } from '../__tests__/harness/test-images.js';
import { writeArchives } from '../src/pipeline/archives.js';
import { silentLogger } from '../src/util/log.js';

const IMAGES = Number(process.env.IMAGES ?? 400);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ARM64 = { os: 'linux', architecture: 'arm64' };

/** A layout of IMAGES single-platform images: own layer of 128 KiB over shared bases. */
function buildLayout(dir: string): { blobs: number; bytes: number } {
  const bases = Array.from({ length: 8 }, (_, i) => baseLayers(`bench-base-${i}`, 1 + (i % 3), 32 * 1024));
  const images: [string, TestImage][] = Array.from({ length: IMAGES }, (_, n) => [
    `registry.example/bench/app${n}:1`,
    buildImage({
      seed: `blobs-${n}`,
      base: bases[n % bases.length],
      platforms: [ARM64],
      layerSize: 128 * 1024,
    }),
  ]);
  return writeLayout(dir, images);
}

interface Measure {
  wall: number;
  cpu: number;
}

/** `tar -cf` of the layout under GNU time: wall and CPU seconds. */
function timeTar(archive: string, layout: string): Measure {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', 'tar', '-cf', archive, '-C', layout, '.'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tar -cf failed: ${r.stderr}`);
  const [wall, user, sys] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  return { wall: wall as number, cpu: (user as number) + (sys as number) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main() {
  const work = join(tmpdir(), `cache-images-bench-blobs-${process.pid}`);
  // BENCH_LAYOUT keeps the layout for profiling (node --cpu-prof) after the run.
  const layout = process.env.BENCH_LAYOUT ?? join(work, 'layout');
  try {
    const { blobs, bytes } = buildLayout(layout);
    if (readdirSync(join(layout, 'blobs', 'sha256')).length !== blobs) throw new Error('layout incomplete');
    const ours: Measure[] = [];
    const tar: Measure[] = [];
    const archive = join(work, 'images.tar');
    for (let round = 0; round <= ROUNDS; round++) {
      rmSync(archive, { force: true });
      const wall = performance.now();
      const cpu = process.cpuUsage();
      await writeArchives({ layoutDir: layout, archive, layerCompression: 'keep', logger: silentLogger });
      const used = process.cpuUsage(cpu);
      // Round 0 warms the page cache and the JIT.
      if (round) ours.push({ wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6 });
      rmSync(archive, { force: true });
      const timed = timeTar(archive, layout);
      if (round) tar.push(timed);
    }
    const a = { wall: median(ours.map((m) => m.wall)), cpu: median(ours.map((m) => m.cpu)) };
    const b = { wall: median(tar.map((m) => m.wall)), cpu: median(tar.map((m) => m.cpu)) };
    const perBlob = (x: number, y: number) => ((x - y) / blobs) * 1000;
    const wallCost = perBlob(a.wall, b.wall);
    const lines = [
      `Archive writing: ${IMAGES} images, ${blobs} blobs, ${(bytes / 1e6).toFixed(1)} MB, median of ${ROUNDS} rounds, ${new Date().toISOString().slice(0, 10)}, ${process.version}, load average ${loadavg()[0]?.toFixed(1)}`,
      '',
      '| run | wall s | CPU s | wall ms per blob |',
      '| --- | --- | --- | --- |',
      `| cache-images archive (in-process) | ${a.wall.toFixed(3)} | ${a.cpu.toFixed(3)} | ${((a.wall / blobs) * 1000).toFixed(3)} |`,
      `| tar -cf of the layout | ${b.wall.toFixed(3)} | ${b.cpu.toFixed(3)} | ${((b.wall / blobs) * 1000).toFixed(3)} |`,
      '',
      `per-blob cost beyond copying: ${wallCost.toFixed(3)} ms wall (target <= 0.2 ${wallCost <= 0.2 ? 'met' : 'MISSED'}), ${perBlob(a.cpu, b.cpu).toFixed(3)} ms CPU; ratio to tar -cf: ${(a.wall / b.wall).toFixed(2)} wall, ${(a.cpu / b.cpu).toFixed(2)} CPU`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (!process.env.BENCH_LAYOUT) rmSync(layout, { recursive: true, force: true });
  }
}

await main();
