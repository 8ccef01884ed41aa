import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, errorLines } from './harness/cli.js';
import { run, startDockerEngine, type DockerEngine } from './harness/docker-engine.js';
import { startFaultProxy } from './harness/fault-proxy.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { baseLayers, buildImage, platformImage, pushImage, type TestImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const ARMV7 = { os: 'linux', architecture: 'arm', variant: 'v7' };

let registry: TestRegistry;
let engine: DockerEngine;
const images: Record<string, TestImage> = {};
const work = mkdtempSync(join(tmpdir(), 'pull-e2e-'));

beforeAll(async () => {
  [registry, engine] = await Promise.all([startRegistry(), startDockerEngine()]);
  const base = baseLayers('debian-base', 2);
  images.web = buildImage({ seed: 'web', base });
  images.api = buildImage({ seed: 'api', base, flavour: 'docker' });
  images.tool = buildImage({ seed: 'tool', single: true, platforms: [ARM64] });
  images.amd = buildImage({ seed: 'amd', single: true });
  await pushImage(registry.host, 'apps/web', '1.0', images.web as TestImage);
  await pushImage(registry.host, 'apps/api', '2.1', images.api as TestImage);
  await pushImage(registry.host, 'tools/tool', 'v3', images.tool as TestImage);
  await pushImage(registry.host, 'tools/amd', '1', images.amd as TestImage);
});

afterAll(async () => {
  await Promise.all([registry?.stop(), engine?.stop()]);
});

const sha256File = (path: string) =>
  `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;

describe('cache-images pull against a plain-HTTP registry', () => {
  const layout = join(work, 'layout');
  const archive = join(work, 'images.tar');
  const report = join(work, 'report.json');
  let web: string;
  let api: string;
  let tool: string;

  beforeAll(() => {
    web = `${registry.host}/apps/web:1.0`;
    api = `${registry.host}/apps/api:2.1`;
    tool = `${registry.host}/tools/tool@${images.tool?.top.digest}`;
  });

  test('pulls an OCI index, a Docker manifest list and a digest-pinned single-platform image for arm64', async () => {
    const r = await cli([
      'pull',
      ...['--image', web, '--image', api, '--image', tool],
      ...['--platform', 'linux/arm64', '--layout', layout, '--archive', archive, '--report', report],
    ]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');

    // index.json: one descriptor per reference, the original top-level document, annotated.
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const byRef = Object.fromEntries(
      index.manifests.map((d: { annotations: Record<string, string> }) => [
        d.annotations['org.opencontainers.image.ref.name'],
        d,
      ]),
    );
    expect(Object.keys(byRef).sort()).toEqual([api, tool, web].sort());
    expect(byRef[web].digest).toBe(images.web?.top.digest);
    expect(byRef[web].mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(byRef[api].digest).toBe(images.api?.top.digest);
    expect(byRef[api].mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(byRef[tool].digest).toBe(images.tool?.top.digest);
    expect(byRef[web].annotations['io.containerd.image.name']).toBe(web);

    // Exactly the arm64 blobs, each stored once and named by its content's digest.
    const expected = new Set<string>();
    for (const img of [images.web, images.api] as TestImage[]) {
      expected.add(img.top.digest);
      const p = platformImage(img, ARM64);
      [p.manifest, p.config, ...p.layers].forEach((b) => expected.add(b.digest));
    }
    const t = platformImage(images.tool as TestImage, ARM64);
    [t.manifest, t.config, ...t.layers].forEach((b) => expected.add(b.digest));
    const stored = readdirSync(join(layout, 'blobs', 'sha256'));
    expect(new Set(stored.map((h) => `sha256:${h}`))).toEqual(expected);
    for (const h of stored) expect(sha256File(join(layout, 'blobs', 'sha256', h))).toBe(`sha256:${h}`);

    // The report: per image digests and sizes; the shared base layers counted once in totals.
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    const webReport = rep.images.find((i: { reference: string }) => i.reference === web);
    const webArm = platformImage(images.web as TestImage, ARM64);
    expect(webReport).toMatchObject({
      digest: images.web?.top.digest,
      platformDigest: webArm.manifest.digest,
      platform: 'linux/arm64',
      source: 'registry',
      size: webArm.manifest.size + webArm.config.size + webArm.layers.reduce((n, l) => n + l.size, 0),
    });
    const storedBytes = stored.reduce(
      (n, h) => n + readFileSync(join(layout, 'blobs', 'sha256', h)).length,
      0,
    );
    expect(rep.totals.downloadedBytes).toBe(storedBytes);
    expect(rep.totals.blobsFromRegistry).toBe(expected.size);
  });

  test('docker load accepts the archive and names each tagged image by its reference', async () => {
    const load = await engine.docker(['load', '-i', archive]);
    expect(load.stderr).toBe('');
    expect(load.code).toBe(0);
    for (const [ref, img] of [
      [web, images.web],
      [api, images.api],
    ] as const) {
      const inspect = await engine.docker([
        'image',
        'inspect',
        ref,
        '--format',
        '{{.Architecture}} {{json .RootFS.Layers}}',
      ]);
      expect(inspect.code).toBe(0);
      const [arch, layers] = inspect.stdout.trim().split(' ');
      expect(arch).toBe('arm64');
      expect(JSON.parse(layers as string)).toEqual(
        platformImage(img as TestImage, ARM64).layers.map((l) => l.diffId),
      );
    }
    // The digest-only reference has no tag to give; it loads untagged, by its config digest.
    const byId = await engine.docker([
      'image',
      'inspect',
      platformImage(images.tool as TestImage, ARM64).config.digest,
    ]);
    expect(byId.code).toBe(0);
  });

  test('skopeo reads every image of the archive and re-hashes every blob when copying it', async () => {
    const inspect = await run('skopeo', ['inspect', `docker-archive:${archive}:${web}`]);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout).Architecture).toBe('arm64');
    const copy = await run('skopeo', [
      'copy',
      '--insecure-policy',
      `docker-archive:${archive}:${api}`,
      `oci:${join(work, 'copy')}:api`,
    ]);
    expect(copy.stderr).toBe('');
    expect(copy.code).toBe(0);
  });

  test('archive writes a byte-identical archive from the layout alone', async () => {
    await registry.stop({ keepStorage: true });
    const again = join(work, 'again.tar');
    const r = await cli(['archive', '--layout', layout, '--archive', again]);
    expect(r.code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(archive))).toBe(true);
    registry = await startRegistry({ storageDir: registry.storageDir });
  });
});

describe('platform selection', () => {
  test('arm/v7 from a Docker manifest list', async () => {
    const layout = join(work, 'armv7');
    const ref = `${registry.host}/apps/api:2.1`;
    const r = await cli(['pull', '--image', ref, '--platform', 'linux/arm', '--layout', layout]);
    expect(r.code).toBe(0);
    const v7 = platformImage(images.api as TestImage, ARMV7);
    const stored = readdirSync(join(layout, 'blobs', 'sha256')).map((h) => `sha256:${h}`);
    expect(stored).toContain(v7.manifest.digest);
    expect(stored).not.toContain(platformImage(images.api as TestImage, ARM64).manifest.digest);
  });

  test('a platform the index lacks is an error that lists the platforms it has', async () => {
    const r = await cli([
      'pull',
      '--image',
      `${registry.host}/apps/web:1.0`,
      '--platform',
      'linux/riscv64',
      '--layout',
      join(work, 'rv'),
    ]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      `error: image ${registry.host}/apps/web:1.0 (registry ${registry.host}) has no linux/riscv64 variant; it offers linux/amd64, linux/arm64, linux/arm/v7: choose another platform with --platform, or an image built for the one you need`,
    ]);
  });

  test('a single-platform image for another platform is refused, not silently used', async () => {
    const r = await cli([
      'pull',
      '--image',
      `${registry.host}/tools/amd:1`,
      '--platform',
      'linux/arm64',
      '--layout',
      join(work, 'amd'),
    ]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(
        /^error: image .*tools\/amd:1 .* is a single-platform image for linux\/amd64, not linux\/arm64: choose another platform/,
      ),
    ]);
  });
});

describe('usage and input errors', () => {
  test.each([
    [['pull', '--image', 'x/y:1', '--layout', 'L'], /--platform is required/],
    [['pull', '--image', 'x/y:1', '--platform', 'linux/arm64'], /--layout is required/],
    [['pull', '--platform', 'linux', '--layout', 'L', '--image', 'x:1'], /invalid platform/],
    [['pull', '--bogus'], /unknown option --bogus/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [
      ['pull', '--image', 'a:1', '--platform', 'linux/arm64', '--layout', 'L', '--concurrency', '0'],
      /--concurrency: must be a whole number from 1 to 64/,
    ],
  ])('%j exits 2', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('a reference without tag or digest exits 1 naming it', async () => {
    const r = await cli([
      'pull',
      '--image',
      `${registry.host}/apps/web`,
      '--platform',
      'linux/arm64',
      '--layout',
      join(work, 'x'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: image .*apps\/web has neither a tag nor a digest/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  test('an unknown image names image and registry and says what to check', async () => {
    const r = await cli([
      'pull',
      '--image',
      `${registry.host}/apps/nope:1`,
      '--platform',
      'linux/arm64',
      '--layout',
      join(work, 'n'),
    ]);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      `error: image ${registry.host}/apps/nope:1 (registry ${registry.host}): tag 1 not found, HTTP 404: check the image name and tag`,
    ]);
  });

  test('--help exits 0 and documents every option', async () => {
    for (const command of ['list', 'pull', 'archive', 'key']) {
      const r = await cli([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: cache-images ${command}`));
    }
  });
});

describe('documents are fetched once per digest per run', () => {
  test('two tags of one image cost one manifest GET, one platform-manifest GET and one config GET', async () => {
    await pushImage(registry.host, 'apps/web', 'stable', images.web as TestImage);
    const proxy = await startFaultProxy(`http://${registry.host}`);
    try {
      const r = await cli([
        'pull',
        '--image',
        `${proxy.host}/apps/web:1.0`,
        '--image',
        `${proxy.host}/apps/web:stable`,
        '--platform',
        'linux/arm64',
        '--layout',
        join(work, 'two-tags'),
      ]);
      expect(errorLines(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      const arm = platformImage(images.web as TestImage, ARM64);
      const gets = (digest: string) =>
        proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(`/${digest}`)).length;
      expect(gets(images.web?.top.digest as string)).toBe(1);
      expect(gets(arm.manifest.digest)).toBe(1);
      expect(gets(arm.config.digest)).toBe(1);
      // Both tags were asked for once each, with HEAD (free under Docker Hub's pull limit).
      const heads = proxy.requests.filter((q) => q.method === 'HEAD').map((q) => q.path);
      expect(heads.sort()).toEqual(['/v2/apps/web/manifests/1.0', '/v2/apps/web/manifests/stable']);
    } finally {
      await proxy.stop();
    }
  });
});
