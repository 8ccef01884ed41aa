import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cli, errorLines } from './harness/cli.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { waitFor } from './harness/processes.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { baseLayers, buildImage, pushImage, type Blob, type TestImage } from './harness/test-images.js';

/**
 * A pull with --archive writes each downloaded blob into the archive as its bytes arrive,
 * and copies from the layout only what it did not download. Whatever happened on the way
 * (blobs already there, a body cut and resumed, a run killed and continued), the archive
 * must be byte for byte the one `archive` writes from the finished layout, and a failed run
 * must leave no archive and no temporary file.
 */
const ARM64 = { os: 'linux', architecture: 'arm64' };
const MiB = 1024 * 1024;

let registry: TestRegistry;
let proxy: FaultProxy;
const work = mkdtempSync(join(tmpdir(), 'archive-while-pulling-'));
const mounts: string[] = [];
const images: Record<string, TestImage> = {};
let refs: string[];

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.url);
  const base = baseLayers('awp-base', 2, 512 * 1024);
  images.web = buildImage({ seed: 'awp-web', base, platforms: [ARM64], layerSize: 3 * MiB });
  images.api = buildImage({ seed: 'awp-api', base, platforms: [ARM64], ownLayers: 2, layerSize: 2 * MiB });
  images.tool = buildImage({ seed: 'awp-tool', single: true, platforms: [ARM64], layerSize: 8 * MiB });
  await pushImage(registry.host, 'awp/web', '1', images.web as TestImage);
  await pushImage(registry.host, 'awp/api', '2', images.api as TestImage);
  await pushImage(registry.host, 'awp/tool', '3', images.tool as TestImage);
  refs = [`${proxy.host}/awp/web:1`, `${proxy.host}/awp/api:2`, `${proxy.host}/awp/tool:3`];
  await pushImage(registry.host, 'awp/broken', '1', brokenImage(images.web as TestImage));
});

/** A single-platform image listing web's own layer with a size 1,000 bytes short: a broken manifest. */
function brokenImage(web: TestImage): TestImage {
  const own = web.platforms[0]?.layers.at(-1) as Blob & { diffId: string };
  const blob = (bytes: Buffer, mediaType: string): Blob => ({
    bytes,
    mediaType,
    size: bytes.length,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
  });
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'arm64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [own.diffId] },
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: [{ mediaType: own.mediaType, digest: own.digest, size: own.size - 1000 }],
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  return { top: manifest, platforms: [], blobs: [config, own], children: [] };
}

afterAll(async () => {
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
  await Promise.all([proxy?.stop(), registry?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const pullArgs = (layout: string, references = refs) => [
  'pull',
  ...references.flatMap((r) => ['--image', r]),
  ...['--platform', 'linux/arm64', '--layout', layout],
];

/** The archive `archive` writes from the layout alone: what a pull's archive must equal. */
async function expectSameAsFromLayout(layout: string, pulled: string): Promise<void> {
  const again = join(work, `from-layout-${Date.now()}.tar`);
  const r = await cli(['archive', '--layout', layout, '--archive', again]);
  expect(r.code).toBe(0);
  expect(statSync(pulled).size).toBe(statSync(again).size);
  expect(readFileSync(pulled).equals(readFileSync(again))).toBe(true);
  rmSync(again);
}

/** A tmpfs of `size` mounted at `dir` (unmounted after the tests). */
function tmpfs(dir: string, size: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

const layerPath = (image: TestImage) => {
  const layer = image.platforms[0]?.layers.at(-1);
  return { digest: layer?.digest as string, path: new RegExp(`/blobs/${layer?.digest}`) };
};

describe('an archive written while its blobs download', () => {
  test('is byte for byte the archive written from the finished layout; one per image with --archive-dir too', async () => {
    const dir = join(work, 'cold');
    const r = await cli([
      ...pullArgs(join(dir, 'layout')),
      ...['--archive', join(dir, 'out', 'images.tar'), '--archive-dir', join(dir, 'per-image')],
    ]);
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.code).toBe(0);
    await expectSameAsFromLayout(join(dir, 'layout'), join(dir, 'out', 'images.tar'));
    const perImage = join(dir, 'from-layout');
    expect((await cli(['archive', '--layout', join(dir, 'layout'), '--archive-dir', perImage])).code).toBe(0);
    const names = readdirSync(join(dir, 'per-image')).sort();
    expect(names).toHaveLength(3);
    expect(readdirSync(perImage).sort()).toEqual(names);
    for (const n of names) {
      expect(readFileSync(join(dir, 'per-image', n)).equals(readFileSync(join(perImage, n)))).toBe(true);
    }
    // Nothing but the archive in its folder: no temporary is left.
    expect(readdirSync(join(dir, 'out'))).toEqual(['images.tar']);
  });

  test('with some blobs already in the layout and others downloaded, still the same bytes', async () => {
    const dir = join(work, 'partly');
    const layout = join(dir, 'layout');
    expect((await cli(pullArgs(layout, [refs[0] as string]))).code).toBe(0);
    proxy.clear();
    const r = await cli([...pullArgs(layout), '--archive', join(dir, 'images.tar')]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/reused \d+ blobs? from the layout/);
    // The shared base came from the layout, only the new images' own layers from the registry.
    const layerGets = proxy.requests.filter((q) => q.method === 'GET' && /\/blobs\//.test(q.path));
    expect(layerGets.some((q) => q.path.includes('/awp/web/'))).toBe(false);
    await expectSameAsFromLayout(layout, join(dir, 'images.tar'));
  });

  test('a body cut mid-way and resumed with Range in the same run: the archive is whole', async () => {
    const dir = join(work, 'cut');
    const tool = layerPath(images.tool as TestImage);
    proxy.clear();
    proxy.inject({ method: 'GET', path: tool.path, cutAfterBytes: 3 * MiB + 123 });
    const r = await cli([...pullArgs(join(dir, 'layout')), '--archive', join(dir, 'images.tar')]);
    expect(r.code).toBe(0);
    const gets = proxy.requests.filter((q) => q.method === 'GET' && tool.path.test(q.path));
    expect(gets).toHaveLength(2);
    expect(gets[0]?.headers.range).toBeUndefined();
    // It resumes where its bytes ended: at most where the cut fell (bytes in flight are lost).
    const from = Number(/^bytes=(\d+)-$/.exec(String(gets[1]?.headers.range))?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(3 * MiB + 123);
    await expectSameAsFromLayout(join(dir, 'layout'), join(dir, 'images.tar'));
  });

  test('a corrupt blob fails the run with one line, leaving no archive and no temporary file', async () => {
    const dir = join(work, 'corrupt');
    mkdirSync(join(dir, 'out'), { recursive: true });
    const tool = layerPath(images.tool as TestImage);
    proxy.clear();
    proxy.inject({ method: 'GET', path: tool.path, corrupt: true, times: 10 });
    const r = await cli([...pullArgs(join(dir, 'layout')), '--archive', join(dir, 'out', 'images.tar')]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringContaining(`blob ${tool.digest} is corrupt`) as unknown as string,
    ]);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
    proxy.clear();
  });

  test('a run killed mid-download leaves its temporary; the next run removes it, resumes the blob and writes the same archive', async () => {
    const dir = join(work, 'killed');
    const out = join(dir, 'out');
    mkdirSync(out, { recursive: true });
    const tool = layerPath(images.tool as TestImage);
    proxy.clear();
    // Cut the big layer at 5 MiB, then hold its resumption: the kill lands with a partial on disk.
    proxy.inject({ method: 'GET', path: tool.path, cutAfterBytes: 5 * MiB });
    proxy.inject({ method: 'GET', path: tool.path, stallMs: 60_000 });
    const child = spawn(process.execPath, [
      CLI,
      ...pullArgs(join(dir, 'layout')),
      '--archive',
      join(out, 'images.tar'),
    ]);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const partial = join(dir, 'layout', '.partial-blobs', tool.digest.slice(7));
    await waitFor(
      'the cut layer waiting to resume',
      async () =>
        proxy.requests.some((q) => tool.path.test(q.path) && q.headers.range !== undefined) &&
        existsSync(partial) &&
        statSync(partial).size > 0,
      30_000,
    );
    child.kill('SIGKILL');
    await exited;
    const kept = statSync(partial).size;
    const left = readdirSync(out);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^\.images\.tar\.\d+-[0-9a-f]{8}\.tmp$/);

    proxy.clear();
    const r = await cli([...pullArgs(join(dir, 'layout')), '--archive', join(out, 'images.tar')]);
    expect(r.code).toBe(0);
    const gets = proxy.requests.filter((q) => q.method === 'GET' && tool.path.test(q.path));
    expect(gets.map((q) => q.headers.range)).toEqual([`bytes=${kept}-`]);
    expect(readdirSync(out)).toEqual(['images.tar']);
    await expectSameAsFromLayout(join(dir, 'layout'), join(out, 'images.tar'));
  });

  test('a layer two images list with different sizes fails the run, never a corrupt archive', async () => {
    const dir = join(work, 'sizes');
    const out = join(dir, 'out');
    mkdirSync(out, { recursive: true });
    const own = images.web?.platforms[0]?.layers.at(-1)?.digest as string;
    const r = await cli([
      ...pullArgs(join(dir, 'layout'), [refs[0] as string, `${proxy.host}/awp/broken:1`]),
      '--archive',
      join(out, 'images.tar'),
    ]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringContaining(own) as unknown as string]);
    expect(readdirSync(out)).toEqual([]);
  });

  test('a partial download that cannot be opened fails the run naming it (it used to be skipped)', async () => {
    const dir = join(work, 'unopenable');
    const layout = join(dir, 'layout');
    const tool = layerPath(images.tool as TestImage);
    const partial = join(layout, '.partial-blobs', tool.digest.slice(7));
    mkdirSync(partial, { recursive: true });
    for (const archive of [[], ['--archive', join(dir, 'images.tar')]]) {
      const r = await cli([...pullArgs(layout, [refs[2] as string]), ...archive]);
      expect(r.code).toBe(1);
      expect(errorLines(r.stderr)).toEqual([
        `error: ${partial}: a folder where a file is expected: remove it or choose another path`,
      ]);
    }
    expect(readdirSync(dir)).toEqual(['layout']);
  });

  test('an archive whose file system lacks the room fails before any layer downloads, naming the archive and the room', async () => {
    const dir = join(work, 'no-room');
    const mnt = tmpfs(join(dir, 'small'), '4m');
    const archive = join(mnt, 'images.tar');
    proxy.clear();
    const r = await cli([...pullArgs(join(dir, 'layout')), '--archive', archive]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: ${archive}: no space for [0-9.]+ MiB \\(archives\\): its file system has 4.0 MiB free; free some space there or use another folder`,
        ),
      ) as unknown as string,
    ]);
    const layers = Object.values(images).flatMap((i) => i.platforms[0]?.layers.map((l) => l.digest) ?? []);
    expect(proxy.requests.filter((q) => layers.some((d) => q.path.endsWith(d)))).toEqual([]);
    expect(readdirSync(mnt)).toEqual([]);
  });

  test('room at the start, gone mid-download: one line naming the archive, nothing of it left', async () => {
    const dir = join(work, 'full');
    const mnt = tmpfs(join(dir, 'small'), '32m');
    const archive = join(mnt, 'images.tar');
    const tool = layerPath(images.tool as TestImage);
    proxy.clear();
    proxy.inject({ method: 'GET', path: tool.path, stallMs: 3000 });
    const run = cli([...pullArgs(join(dir, 'layout')), '--archive', archive]);
    await waitFor('the big layer held back', async () =>
      proxy.requests.some((q) => q.fault?.startsWith('stalled')),
    );
    // Something else fills the disk while the layer is on its way.
    execFileSync('sh', ['-c', `dd if=/dev/zero of=${join(mnt, 'filler')} bs=1M 2>/dev/null || true`]);
    const r = await run;
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      `error: ${archive}: cannot write the archive: no space left on its file system (ENOSPC); free some space there or write it elsewhere`,
    ]);
    expect(readdirSync(mnt)).toEqual(['filler']);
  });
});
