import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAction } from './harness/action-runner.js';
import { startCacheServer, type CacheServer } from './harness/cache-server.js';
import { startDockerEngine, type DockerEngine } from './harness/docker-engine.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { baseLayers, buildImage, platformImage, pushImage, type TestImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const work = mkdtempSync(join(tmpdir(), 'action-e2e-'));
// Hosted runners give every run the same RUNNER_TEMP path, and the cache's version hashes the path.
const runnerTemp = join(work, 'runner-temp');
const layout = join(runnerTemp, 'cache-images', 'layout');
let registry: TestRegistry;
let proxy: FaultProxy;
let cacheServer: CacheServer;
let engine: DockerEngine;
const images: TestImage[] = [];

beforeAll(async () => {
  [registry, cacheServer, engine] = await Promise.all([
    startRegistry(),
    startCacheServer(),
    startDockerEngine(),
  ]);
  proxy = await startFaultProxy(`http://${registry.host}`);
  const base = baseLayers('action-base', 2);
  for (let n = 0; n < 3; n++) {
    images.push(buildImage({ seed: `action-${n}`, base }));
    await pushImage(registry.host, `app/a${n}`, '1', images[n] as TestImage);
  }
});

afterAll(async () => {
  await Promise.all([registry?.stop(), proxy?.stop(), cacheServer?.stop(), engine?.stop()]);
});

/** A fresh runner: nothing on disk from an earlier run but what the cache restores. */
function freshRunner() {
  rmSync(runnerTemp, { recursive: true, force: true });
  mkdirSync(runnerTemp, { recursive: true });
}

const run = (
  images: string[],
  extra: Record<string, string> = {},
  env: Record<string, string> = cacheServer.env,
) =>
  runAction(
    {
      pallet: '',
      images: images.join('\n'),
      platform: 'linux/arm64',
      archive: join(work, 'images.tar'),
      ...extra,
    },
    { ...env, RUNNER_TEMP: runnerTemp },
  );

describe('the action, with the Actions cache', () => {
  const pinned = () => images.map((img, n) => `${proxy.host}/app/a${n}:1@${img.top.digest}`);

  test('first run: misses, pulls, saves under the digest-set key', async () => {
    freshRunner();
    const r = await run(pinned());
    expect(r.stdout + r.stderr).not.toMatch(/::error/);
    expect(r.code).toBe(0);
    expect(r.outputs['cache-hit']).toBe('false');
    expect(r.outputs['cache-key']).toMatch(/^cache-images-linux-arm64-[a-f0-9]{32}$/);
    expect(cacheServer.keys()).toEqual([r.outputs['cache-key']]);
    expect(Number(r.outputs['downloaded-bytes'])).toBeGreaterThan(0);
    expect(r.outputs['layout-path']).toBe(layout);
    const listed = JSON.parse(r.outputs.images as string);
    expect(listed.map((i: { digest: string }) => i.digest)).toEqual(images.map((i) => i.top.digest));
    // A log group per phase, and a summary with the table and the key.
    for (const g of [
      'Resolve the image list',
      'Restore the layout from the cache',
      'Pull images',
      // The save and the archives overlap: one group for both.
      'Write archives and save the layout to the cache',
    ]) {
      expect(r.commands).toContain(`::group::${g}`);
    }
    expect(r.summary).toContain('<th>required by</th>');
    expect(r.summary).toContain(`Cache key <code>${r.outputs['cache-key']}</code>: no entry yet; saved.`);
  });

  test('second run with the same digests: exact hit, no registry request, a loadable archive', async () => {
    freshRunner();
    proxy.clear();
    proxy.inject({ path: /./, status: 500, times: 1_000_000 });
    const before = cacheServer.keys();
    const r = await run(pinned());
    proxy.clear();
    expect(r.code).toBe(0);
    expect(r.outputs['cache-hit']).toBe('true');
    expect(r.outputs['downloaded-bytes']).toBe('0');
    expect(proxy.requests).toHaveLength(0);
    expect(cacheServer.keys()).toEqual(before);
    expect(r.commands).not.toContain('::group::Save the layout to the cache');
    const load = await engine.docker(['load', '-i', join(work, 'images.tar')]);
    expect(load.code).toBe(0);
    const inspect = await engine.docker([
      'image',
      'inspect',
      `${proxy.host}/app/a1:1`,
      '--format',
      '{{json .RootFS.Layers}}',
    ]);
    expect(JSON.parse(inspect.stdout)).toEqual(
      platformImage(images[1] as TestImage, ARM64).layers.map((l) => l.diffId),
    );
  });

  test('one moved tag: restored by prefix, only the new blobs downloaded, saved under a new key', async () => {
    const tags = images.map((_, n) => `${proxy.host}/app/a${n}:1`);
    freshRunner();
    const first = await run(tags);
    expect(first.code).toBe(0);
    const moved = buildImage({ seed: 'action-2-rebuilt', base: baseLayers('action-base', 2) });
    await pushImage(registry.host, 'app/a2', '1', moved);
    freshRunner();
    proxy.clear();
    const r = await run(tags);
    expect(r.code).toBe(0);
    expect(r.outputs['cache-hit']).toBe('false');
    expect(r.outputs['cache-key']).not.toBe(first.outputs['cache-key']);
    expect(r.summary).toContain(`restored from the older entry <code>${first.outputs['cache-key']}</code>`);
    const arm = platformImage(moved, ARM64);
    const fresh = [moved.top, arm.manifest, arm.config, ...arm.layers.slice(2)];
    expect(Number(r.outputs['downloaded-bytes'])).toBe(fresh.reduce((n, b) => n + b.size, 0));
    const fetched = proxy.requests.filter(
      (q) => q.method === 'GET' && /\/(blobs|manifests)\/sha256:/.test(q.path),
    );
    expect(fetched.map((q) => q.path.replace(/.*\//, '')).sort()).toEqual(fresh.map((b) => b.digest).sort());
    expect(cacheServer.keys()).toContain(r.outputs['cache-key']);
    images[2] = moved;
  });

  test('cache service down: one warning, a correct result, the run succeeds', async () => {
    freshRunner();
    cacheServer.setOutage(true);
    const r = await run(pinned(), { 'cache-key-prefix': 'outage' });
    cacheServer.setOutage(false);
    expect(r.code).toBe(0);
    // The cache client's own warning is the only one; nothing is an error.
    expect(r.commands.filter((c) => c.startsWith('::error'))).toEqual([]);
    expect(r.commands.filter((c) => c.startsWith('::warning'))).toHaveLength(1);
    expect(r.outputs['cache-hit']).toBe('false');
    expect(JSON.parse(r.outputs.images as string)).toHaveLength(3);
    expect((await engine.docker(['load', '-i', join(work, 'images.tar')])).code).toBe(0);
  });

  test('outside GitHub (no cache service): one warning and a correct result', async () => {
    freshRunner();
    const r = await run(pinned(), {}, {});
    expect(r.code).toBe(0);
    const warnings = r.commands.filter((c) => c.startsWith('::warning::the Actions cache is unavailable'));
    expect(warnings).toHaveLength(1);
    expect(r.outputs['cache-hit']).toBe('false');
  });
});

describe('workflow fit: cache modes and registry outages', () => {
  const tags = () => images.map((_, n) => `${proxy.host}/app/a${n}:1`);

  test('registry down: tags take the digests of the cached layout, one warning each, marked stale', async () => {
    freshRunner();
    proxy.clear();
    const first = await run(tags(), { 'cache-key-prefix': 'down' });
    expect(first.code).toBe(0);
    freshRunner();
    proxy.inject({ path: /./, status: 503, times: 1_000_000 });
    const r = await run(tags(), { 'cache-key-prefix': 'down' });
    proxy.clear();
    expect(r.commands.filter((c) => c.startsWith('::error'))).toEqual([]);
    expect(r.code).toBe(0);
    const warnings = r.commands.filter((c) => c.startsWith('::warning'));
    expect(warnings).toHaveLength(tags().length);
    for (const t of tags())
      expect(warnings.some((w) => w.includes(`${t}:`) && w.includes('may be stale'))).toBe(true);
    // The same digests as the cached run: nothing to save, nothing downloaded.
    expect(r.outputs['cache-key']).toBe(first.outputs['cache-key']);
    expect(r.outputs['cache-hit']).toBe('true');
    expect(r.outputs['downloaded-bytes']).toBe('0');
    const listed = JSON.parse(r.outputs.images as string) as { stale?: boolean }[];
    expect(listed.every((i) => i.stale)).toBe(true);
    expect(r.summary).toContain('<td>stale</td>');
    expect((await engine.docker(['load', '-i', join(work, 'images.tar')])).code).toBe(0);
  });

  test('registry down with on-registry-error: fail, or a reference the cache lacks: the run fails', async () => {
    freshRunner();
    proxy.inject({ path: /./, status: 503, times: 1_000_000 });
    const strict = await run(tags(), { 'cache-key-prefix': 'down', 'on-registry-error': 'fail' });
    freshRunner();
    const unknown = await run([`${proxy.host}/app/never:1`], { 'cache-key-prefix': 'down' });
    proxy.clear();
    expect(strict.code).toBe(1);
    expect(strict.commands.join('\n')).toMatch(/::error::image .*app\/a0:1 .*HTTP 503/);
    expect(unknown.code).toBe(1);
    expect(unknown.commands.join('\n')).toMatch(
      /::error::image .*app\/never:1 .*the cached layout does not have it/,
    );
  });

  test('restore-only restores but never saves; fail-on-cache-miss fails a run with nothing to restore', async () => {
    freshRunner();
    const before = cacheServer.keys();
    const r = await run(tags(), { 'cache-key-prefix': 'fork-pr', cache: 'restore-only' });
    expect(r.code).toBe(0);
    expect(cacheServer.keys()).toEqual(before);
    expect(r.commands.some((c) => c.startsWith('::group::Save'))).toBe(false);
    freshRunner();
    const miss = await run(tags(), { 'cache-key-prefix': 'fork-pr', 'fail-on-cache-miss': 'true' });
    expect(miss.code).toBe(1);
    expect(miss.commands.join('\n')).toMatch(
      /::error::no cached layout for fork-pr-linux-arm64-[0-9a-f]+ or its prefix/,
    );
    // A failed run still writes a summary of what it knew.
    expect(miss.summary).toContain('<strong>Failed:</strong>');
  });

  test('the cache save runs while the archives are written', async () => {
    freshRunner();
    const report = join(work, 'overlap-report.json');
    const r = await run(tags(), { 'cache-key-prefix': 'overlap', report });
    expect(r.code).toBe(0);
    const { phases } = JSON.parse(readFileSync(report, 'utf8')) as {
      phases: { name: string; startMs: number; ms: number }[];
    };
    const save = phases.find((p) => p.name === 'Save the layout to the cache');
    const write = phases.find((p) => p.name === 'Write archives');
    expect(save && write).toBeTruthy();
    // Each started before the other finished: the intervals overlap.
    const [a, b] = [save as { startMs: number; ms: number }, write as { startMs: number; ms: number }];
    expect(a.startMs).toBeLessThan(b.startMs + b.ms);
    expect(b.startMs).toBeLessThan(a.startMs + a.ms);
    expect(r.outputs['report-path']).toBe(report);
  });
});

describe("the device's image store", () => {
  test('built by the host engine on a miss, restored from the cache on the next run with no engine started', async () => {
    const tags = images.map((_, n) => `${proxy.host}/app/a${n}:1`);
    freshRunner();
    const first = await run(tags, { 'cache-key-prefix': 'store', 'image-store': 'docker' });
    expect(first.commands.filter((c) => c.startsWith('::error'))).toEqual([]);
    expect(first.code).toBe(0);
    const path = first.outputs['image-store-path'] as string;
    expect(path).toBe(join(runnerTemp, 'cache-images', 'image-store.tar'));
    const manifest = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as {
      engine: string;
      images: unknown[];
    };
    expect(manifest.engine).toBe('docker');
    expect(manifest.images).toHaveLength(tags.length);
    expect(first.summary).toMatch(/Image store <code>[^<]*image-store.tar<\/code>: 3 images, .*built in/);
    expect(first.summary).toContain('Storage Driver: overlay2');

    freshRunner();
    const second = await run(tags, { 'cache-key-prefix': 'store', 'image-store': 'docker' });
    expect(second.code).toBe(0);
    expect(second.summary).toContain('restored from the cache (no engine started)');
    expect(second.stdout).not.toMatch(/starting a private docker/);
  });
});

describe('action errors', () => {
  test('a bad input fails the step naming the input', async () => {
    const r = await run(['x/y:1'], { platform: 'linux' });
    expect(r.code).toBe(1);
    expect(r.commands.join('\n')).toMatch(/::error::input platform: invalid platform "linux"/);
  });

  test('a registry error names the image and registry', async () => {
    const r = await run([`${proxy.host}/app/missing:1`]);
    expect(r.code).toBe(1);
    expect(r.commands.join('\n')).toContain(
      `::error::image ${proxy.host}/app/missing:1 (registry ${proxy.host}): tag 1 not found`,
    );
  });
});
