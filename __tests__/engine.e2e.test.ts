import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cli } from './harness/cli.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { baseLayers, buildImage, platformImage, pushImage, type TestImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const work = mkdtempSync(join(tmpdir(), 'engine-e2e-'));
let registry: TestRegistry;
let proxy: FaultProxy;
const images: TestImage[] = [];
const refs: string[] = [];

/** Twelve images over three shared bases (a pallet's worth), pushed as app/nN:1. */
beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy(`http://${registry.host}`);
  const bases = [
    baseLayers('base-a', 2, 200 * 1024),
    baseLayers('base-b', 3, 100 * 1024),
    baseLayers('base-c', 1, 300 * 1024),
  ];
  for (let n = 0; n < 12; n++) {
    const image = buildImage({ seed: `n${n}`, base: bases[n % 3], layerSize: 50 * 1024 + n * 1024 });
    images.push(image);
    await pushImage(registry.host, `app/n${n}`, '1', image);
    refs.push(`${proxy.host}/app/n${n}:1`);
  }
});

afterAll(async () => {
  await Promise.all([proxy?.stop(), registry?.stop()]);
});

const imageArgs = (list: string[]) => list.flatMap((r) => ['--image', r]);
const blobsIn = (layout: string) =>
  !existsSync(join(layout, 'blobs', 'sha256'))
    ? new Set<string>()
    : new Set(readdirSync(join(layout, 'blobs', 'sha256')).filter((n) => /^[a-f0-9]{64}$/.test(n)));
/** Every blob an image needs for arm64, as hex names. */
function needed(list: TestImage[]): Set<string> {
  const out = new Set<string>();
  for (const img of list) {
    const p = platformImage(img, ARM64);
    for (const b of [img.top, p.manifest, p.config, ...p.layers]) out.add(b.digest.slice(7));
  }
  return out;
}
const blobGets = () => proxy.requests.filter((q) => q.method === 'GET' && q.path.includes('/blobs/'));

describe('many images with shared layers', () => {
  test('each blob is downloaded exactly once, and the layout holds exactly what the images need', async () => {
    proxy.clear();
    const layout = join(work, 'twelve');
    const r = await cli(['pull', ...imageArgs(refs), '--platform', 'linux/arm64', '--layout', layout]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    // One progress line per image, with its size and where its blobs came from.
    for (const ref of refs) {
      const lines = r.stderr.split('\n').filter((l) => l.startsWith(`${ref}: `));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /: \d+(\.\d)? KiB \([a-f0-9]{12}\), \d+ blobs downloaded \(.*\), \d+ from the layout$/,
      );
    }
    const paths = blobGets().map((q) => q.path.replace(/.*\/blobs\//, ''));
    expect(paths.length).toBe(new Set(paths).size);
    const expected = needed(images);
    expect(blobsIn(layout)).toEqual(expected);
    // Shared base layers: 12 images but 3 bases' layers, each fetched once.
    const configsAndLayers = new Set(
      [...images]
        .flatMap((i) => [platformImage(i, ARM64).config, ...platformImage(i, ARM64).layers])
        .map((b) => b.digest),
    );
    expect(new Set(paths)).toEqual(configsAndLayers);
  });

  test('a second run with everything in the layout downloads nothing and resolves tags with HEAD only', async () => {
    const layout = join(work, 'twelve');
    proxy.clear();
    const r = await cli([
      'pull',
      ...imageArgs(refs),
      '--platform',
      'linux/arm64',
      '--layout',
      layout,
      '--report',
      join(work, 'warm.json'),
    ]);
    expect(r.code).toBe(0);
    expect(proxy.requests.every((q) => q.method === 'HEAD' || q.path === '/v2/')).toBe(true);
    const report = JSON.parse(readFileSync(join(work, 'warm.json'), 'utf8'));
    expect(report.totals.downloadedBytes).toBe(0);
    expect(report.images.every((i: { source: string }) => i.source === 'layout')).toBe(true);
  });

  test('references pinned by digest whose blobs are all in the layout need no network at all', async () => {
    const layout = join(work, 'twelve');
    const pinned = images.map((img, n) => `${proxy.host}/app/n${n}@${img.top.digest}`);
    // Pull once by digest (reusing every blob), then again with the registry gone.
    expect(
      (await cli(['pull', ...imageArgs(pinned), '--platform', 'linux/arm64', '--layout', layout])).code,
    ).toBe(0);
    proxy.clear();
    proxy.inject({ path: /./, status: 500, times: 1_000_000 });
    const r = await cli(['pull', ...imageArgs(pinned), '--platform', 'linux/arm64', '--layout', layout]);
    proxy.clear();
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(proxy.requests).toHaveLength(0);
  });
});

describe('crash safety', () => {
  test('a pull killed mid-download is completed by the next run without fetching finished blobs again', async () => {
    const layout = join(work, 'killed');
    proxy.clear();
    // Four big own layers stall, so the run is surely mid-download when killed.
    const stalled = images.slice(0, 4).map((i) => platformImage(i, ARM64).layers.at(-1)?.digest as string);
    for (const d of stalled) proxy.inject({ path: new RegExp(`/blobs/${d}$`), stallMs: 60_000 });
    const child = spawn(
      process.execPath,
      [CLI, 'pull', ...imageArgs(refs), '--platform', 'linux/arm64', '--layout', layout],
      {
        stdio: 'ignore',
      },
    );
    try {
      // Wait until every other blob is in and only the stalled ones are outstanding.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && blobsIn(layout).size < needed(images).size - stalled.length) {
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    const expected = needed(images);
    const before = blobsIn(layout);
    expect(before.size).toBe(expected.size - stalled.length);
    // Every blob present is complete and verified: its bytes hash to its name.
    for (const hex of before) {
      expect(
        createHash('sha256')
          .update(readFileSync(join(layout, 'blobs', 'sha256', hex)))
          .digest('hex'),
      ).toBe(hex);
    }
    proxy.clear();
    const r = await cli(['pull', ...imageArgs(refs), '--platform', 'linux/arm64', '--layout', layout]);
    expect(r.code).toBe(0);
    const fetched = new Set(blobGets().map((q) => q.path.replace(/.*\/blobs\/sha256:/, '')));
    expect(fetched).toEqual(new Set(stalled.map((d) => d.slice(7))));
    expect(blobsIn(layout)).toEqual(expected);
    // The killed run's temporary files are gone.
    expect(readdirSync(join(layout, 'blobs', 'sha256')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  test('--verify finds a damaged blob and fetches it again', async () => {
    const layout = join(work, 'twelve');
    const victim = platformImage(images[5] as TestImage, ARM64)
      .layers.at(-1)
      ?.digest.slice(7) as string;
    const path = join(layout, 'blobs', 'sha256', victim);
    const bytes = readFileSync(path);
    bytes[100] = (bytes[100] as number) ^ 0xff;
    writeFileSync(path, bytes);
    proxy.clear();
    const r = await cli([
      'pull',
      ...imageArgs(refs),
      '--platform',
      'linux/arm64',
      '--layout',
      layout,
      '--verify',
    ]);
    expect(r.code).toBe(0);
    expect(blobGets().map((q) => q.path.replace(/.*\/blobs\/sha256:/, ''))).toEqual([victim]);
    expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(victim);
  });
});

describe('garbage collection', () => {
  test('after a pull of fewer images, exactly the blobs no requested image needs are removed', async () => {
    const layout = join(work, 'gc');
    expect(
      (await cli(['pull', ...imageArgs(refs.slice(0, 6)), '--platform', 'linux/arm64', '--layout', layout]))
        .code,
    ).toBe(0);
    expect(blobsIn(layout)).toEqual(needed(images.slice(0, 6)));
    const r = await cli([
      'pull',
      ...imageArgs(refs.slice(0, 2)),
      '--platform',
      'linux/arm64',
      '--layout',
      layout,
    ]);
    expect(r.code).toBe(0);
    expect(blobsIn(layout)).toEqual(needed(images.slice(0, 2)));
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    expect(index.manifests.map((d: { digest: string }) => d.digest)).toEqual(
      images.slice(0, 2).map((i) => i.top.digest),
    );
  });
});

describe('cache key', () => {
  const key = (list: string[], platform = 'linux/arm64', extra: string[] = []) =>
    cli(['key', ...imageArgs(list), '--platform', platform, ...extra]);

  test('same images and digests: same key, from any directory; platform and prefix are in it', async () => {
    const a = await key(refs);
    const b = await cli(
      ['key', ...imageArgs([...refs].reverse()), '--platform', 'linux/arm64'],
      {},
      tmpdir(),
    );
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^cache-images-linux-arm64-[a-f0-9]{32}\n$/);
    expect(b.stdout).toBe(a.stdout);
    expect((await key(refs, 'linux/arm/v7')).stdout).toMatch(/^cache-images-linux-arm-v7-/);
    expect((await key(refs, 'linux/arm64', ['--prefix', 'os-build'])).stdout).toMatch(
      /^os-build-linux-arm64-/,
    );
  });

  test('tags are resolved with HEAD only; pinned references need no request', async () => {
    proxy.clear();
    expect((await key(refs)).code).toBe(0);
    expect(proxy.requests.filter((q) => q.path !== '/v2/').every((q) => q.method === 'HEAD')).toBe(true);
    proxy.clear();
    const pinned = images.map((img, n) => `${proxy.host}/app/n${n}:1@${img.top.digest}`);
    expect((await key(pinned)).code).toBe(0);
    expect(proxy.requests).toHaveLength(0);
  });

  test('a moved tag or an added image gives a new key', async () => {
    const before = (await key(refs.slice(0, 3))).stdout;
    expect((await key(refs.slice(0, 4))).stdout).not.toBe(before);
    await pushImage(registry.host, 'app/n0', '1', buildImage({ seed: 'n0-rebuilt' }));
    const moved = (await key(refs.slice(0, 3))).stdout;
    expect(moved).not.toBe(before);
    await pushImage(registry.host, 'app/n0', '1', images[0] as TestImage);
    expect((await key(refs.slice(0, 3))).stdout).toBe(before);
  });
});
