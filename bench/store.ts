/**
 * Benchmark of `cache-images store`: the host-side time to build the device's image store
 * (docker overlay2 and containerd overlayfs) and to restore it (extract the tarball), against
 * loading the same archive into a fresh native engine (`docker load`, `ctr images import`).
 * Run with `tsc -p bench/tsconfig.json && node .bench-build/bench/store.js` as root; prints tables.
 * BENCH_STORE_MIB (default 256) sets the images' size, BENCH_ROUNDS (default 3) the rounds.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  startDeviceContainerd,
  startDeviceDocker,
  type DeviceEngine,
} from '../__tests__/harness/device-engine.js';
import { startRegistry } from '../__tests__/harness/registry-server.js';
import { buildImage, makeLayer, pushImage, type TestPlatform } from '../__tests__/harness/test-images.js';

const root = resolve(new URL('..', import.meta.url).pathname, '..');
const CLI = join(root, 'dist', 'cli', 'index.js');
const MiB = 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TOTAL_MIB = Number(process.env.BENCH_STORE_MIB ?? 256);
const ARM64: TestPlatform = { os: 'linux', architecture: 'arm64' };

interface Measure {
  seconds: number;
  rssMiB: number;
  /** The command's log (the store logs its phase times). */
  stderr: string;
}

/** Wall seconds and peak RSS (GNU time) of one command; fails loudly with its stderr. */
function timed(command: string, args: string[]): Promise<Measure> {
  return new Promise((done, fail) => {
    execFile(
      '/usr/bin/time',
      ['-f', '%e %M', command, ...args],
      { maxBuffer: 64 * MiB },
      (err, _o, stderr) => {
        if (err) return fail(new Error(`${command} ${args.join(' ')}: ${stderr.slice(-2000)}`));
        const [seconds, rss] = stderr.trim().split('\n').at(-1)?.split(' ') ?? [];
        done({ seconds: Number(seconds), rssMiB: Number(rss) / 1024, stderr });
      },
    );
  });
}

/** A phase's seconds from the store's log: `ready in 2.1 s`, `loaded in 5.0 s`, `wrote ... in 0.4 s`. */
const phase = (log: string, pattern: RegExp) => Number(pattern.exec(log)?.[1] ?? NaN);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Four images over a shared base, 2 layers each, TOTAL_MIB of layers in all, for arm64. */
async function pushImages(host: string): Promise<string[]> {
  const layerBytes = Math.floor((TOTAL_MIB * MiB) / 6);
  const base = () => [makeLayer('store-bench-base', layerBytes * 2, 'oci', 'gzip', 0)];
  const refs: string[] = [];
  for (let n = 0; n < 4; n++) {
    const image = buildImage({ seed: `store-bench-${n}`, base, layerSize: layerBytes, platforms: [ARM64] });
    await pushImage(host, `bench/app${n}`, '1', image);
    refs.push(`${host}/bench/app${n}:1`);
  }
  return refs;
}

/** One fresh native engine per round: start (not timed), load the archive (timed), stop. */
async function nativeLoad(engine: 'docker' | 'containerd', archive: string, work: string): Promise<Measure> {
  const rootfs = mkdtempSync(join(work, `native-${engine}-`));
  let device: DeviceEngine | undefined;
  try {
    device = engine === 'docker' ? await startDeviceDocker(rootfs) : await startDeviceContainerd(rootfs);
    const started = Date.now();
    const args =
      engine === 'docker'
        ? ['load', '-q', '-i', archive]
        : ['-n', 'moby', 'images', 'import', '--platform', 'linux/arm64', archive];
    const r = await device.client(args);
    if (r.code !== 0) throw new Error(`${engine} load: ${r.stderr}`);
    return { seconds: (Date.now() - started) / 1000, rssMiB: NaN, stderr: r.stderr };
  } finally {
    await device?.stop();
    rmSync(rootfs, { recursive: true, force: true });
  }
}

async function round(engine: 'docker' | 'containerd', layout: string, archive: string, work: string) {
  const output = join(work, `${engine}-store.tar`);
  const built = await timed(process.execPath, [
    CLI,
    'store',
    '--layout',
    layout,
    '--engine',
    engine,
    '--output',
    output,
  ]);
  const target = mkdtempSync(join(work, 'restore-'));
  const restored = await timed('tar', [
    '--xattrs',
    '--xattrs-include=*',
    '--numeric-owner',
    '-C',
    target,
    '-xpf',
    output,
  ]);
  rmSync(target, { recursive: true, force: true });
  const native = await nativeLoad(engine, archive, work);
  const phases = {
    ready: phase(built.stderr, /ready in ([\d.]+) s/),
    load: phase(built.stderr, /loaded in ([\d.]+) s/),
    stop: phase(built.stderr, /stopped in ([\d.]+) s/),
    tar: phase(built.stderr, /wrote .* in ([\d.]+) s/),
  };
  return { built, phases, restored, native, tarMiB: statSync(output).size / MiB };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'bench-store-'));
  const registry = await startRegistry();
  try {
    const refs = await pushImages(registry.host);
    const layout = join(work, 'layout');
    const archive = join(work, 'images.tar');
    mkdirSync(layout);
    const pull = [CLI, 'pull', ...refs.flatMap((r) => ['--image', r]), '--platform', 'linux/arm64'];
    await timed(process.execPath, [...pull, '--layout', layout, '--archive', archive]);
    const archiveMiB = statSync(archive).size / MiB;
    console.log(
      `\nStore benchmark: 4 images, ${archiveMiB.toFixed(0)} MiB archive (gzip layers) for linux/arm64, median of ${ROUNDS} rounds, ${new Date().toISOString().slice(0, 10)}, ${process.version}\n`,
    );
    console.log(
      '| engine | store built s | of which engine start / load / stop / tar s | peak RSS MiB | tarball MiB | restored (tar -x) s | native load of the archive s |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const engine of ['docker', 'containerd'] as const) {
      const rounds: Awaited<ReturnType<typeof round>>[] = [];
      for (let i = 0; i < ROUNDS; i++) rounds.push(await round(engine, layout, archive, work));
      const m = (pick: (r: (typeof rounds)[number]) => number) => median(rounds.map(pick)).toFixed(2);
      console.log(
        `| ${engine} | ${m((r) => r.built.seconds)} | ${m((r) => r.phases.ready)} / ${m((r) => r.phases.load)} / ${m((r) => r.phases.stop)} / ${m((r) => r.phases.tar)} | ${m((r) => r.built.rssMiB)} | ${m((r) => r.tarMiB)} | ${m((r) => r.restored.seconds)} | ${m((r) => r.native.seconds)} |`,
      );
    }
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
