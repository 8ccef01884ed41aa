import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineIdentity } from '../src/store/index.js';
import { CLI, cli } from './harness/cli.js';
import {
  mountsBelow,
  processesMentioning,
  startDeviceContainerd,
  startDeviceDocker,
  type DeviceEngine,
} from './harness/device-engine.js';
import { run } from './harness/docker-engine.js';
import { makeFilesLayer, mergeLayers, whiteoutLayers } from './harness/file-layers.js';
import { dockerAddition, readTree, treeEntries } from './harness/file-tree.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { baseLayers, buildImage, platformImage, pushImage, type TestImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const AMD64 = { os: 'linux', architecture: 'amd64' };
const work = mkdtempSync(join(tmpdir(), 'se-'));
let registry: TestRegistry;
const images: Record<'web' | 'api' | 'wo', TestImage> = {} as never;
const refs: Record<'web' | 'api' | 'wo', string> = {} as never;
const repos: Record<'web' | 'api' | 'wo', string> = {} as never;
const layouts: Record<string, string> = {};

beforeAll(async () => {
  registry = await startRegistry();
  const base = baseLayers('store-base', 2);
  images.web = buildImage({ seed: 'store-web', base });
  images.api = buildImage({ seed: 'store-api', base, flavour: 'docker' });
  images.wo = buildImage({
    seed: 'store-wo',
    base: (p) => whiteoutLayers(p).map(makeFilesLayer),
    ownLayers: 0,
  });
  await pushImage(registry.host, 'apps/web', '1.0', images.web);
  await pushImage(registry.host, 'apps/api', '2.1', images.api);
  await pushImage(registry.host, 'test/whiteout', '1', images.wo);
  repos.web = `${registry.host}/apps/web`;
  repos.api = `${registry.host}/apps/api`;
  repos.wo = `${registry.host}/test/whiteout`;
  refs.web = `${registry.host}/apps/web:1.0`;
  refs.api = `${registry.host}/apps/api:2.1@${images.api.top.digest}`;
  refs.wo = `${registry.host}/test/whiteout:1`;
  for (const platform of ['linux/arm64', 'linux/amd64']) {
    const layout = join(work, `layout-${platform.replace('/', '-')}`);
    const r = await cli([
      'pull',
      ...Object.values(refs).flatMap((ref) => ['--image', ref]),
      ...['--platform', platform, '--layout', layout],
    ]);
    expect(r.code).toBe(0);
    layouts[platform] = layout;
  }
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  // Stores, exports and extracted trees; kept for a look when something is still mounted.
  if (mountsBelow(work).length === 0) rmSync(work, { recursive: true, force: true });
});

/** A private TMPDIR per run: what a build leaves behind is what is left in it. */
function freshTmp(name: string): string {
  const dir = join(work, 'tmp', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function expectNothingLeft(tmp: string, outputDir: string) {
  expect(readdirSync(tmp)).toEqual([]);
  expect(mountsBelow(work)).toEqual([]);
  expect(processesMentioning(tmp)).toEqual([]);
  const outputs = existsSync(outputDir) ? readdirSync(outputDir) : [];
  expect(outputs.filter((n) => n.endsWith('.tmp'))).toEqual([]);
}

async function extract(tarball: string, name: string): Promise<string> {
  const rootfs = join(work, 'device', name);
  mkdirSync(rootfs, { recursive: true });
  const r = await run('tar', [
    '--xattrs',
    '--xattrs-include=*',
    '--numeric-owner',
    '-C',
    rootfs,
    '-xpf',
    tarball,
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return rootfs;
}

interface BuildCase {
  engine: 'docker' | 'containerd';
  platform: string;
  namespace?: string;
}

async function build(c: BuildCase) {
  const name = `${c.engine}-${c.platform.replace('/', '-')}`;
  const tmp = freshTmp(name);
  const outDir = join(work, 'out', name);
  const output = join(outDir, 'image-store.tar');
  const started = Date.now();
  const r = await cli(
    [
      'store',
      ...['--layout', layouts[c.platform] as string, '--engine', c.engine, '--output', output],
      ...(c.namespace ? ['--namespace', c.namespace] : []),
    ],
    { TMPDIR: tmp },
  );
  const seconds = (Date.now() - started) / 1000;
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe('');
  // Bounded: an engine start, a load of a few hundred KiB, a stop and a tar.
  expect(seconds).toBeLessThan(60);
  expectNothingLeft(tmp, outDir);
  const manifest = JSON.parse(readFileSync(`${output}.json`, 'utf8'));
  return { output, manifest, stderr: r.stderr, seconds };
}

const platformOf = (p: string) => (p === 'linux/arm64' ? ARM64 : AMD64);
/** The merged file tree of the whiteout image, as overlay semantics give it. */
const expectedTree = (platform: string) => treeEntries(mergeLayers(whiteoutLayers(platformOf(platform))));

describe.each(['linux/arm64', 'linux/amd64'])('docker engine (overlay2), %s', (platform) => {
  let device: DeviceEngine | undefined;
  afterAll(async () => device?.stop());

  test('a second dockerd on the extracted store lists every reference and exports the whiteout image correctly', async () => {
    const { output, manifest, stderr } = await build({ engine: 'docker', platform });
    // The key computed before a build (from the binaries) is the key of what was built.
    const identity = await engineIdentity('docker');
    expect(identity).toEqual({
      engine: 'docker',
      engineVersion: manifest.engineVersion,
      storageDriver: 'overlay2',
    });
    expect(manifest).toMatchObject({
      engine: 'docker',
      storageDriver: 'overlay2',
      dataRoot: '/var/lib/docker',
      platform,
      tarball: 'image-store.tar',
    });
    expect(manifest.namespace).toBeUndefined();
    expect(stderr).toMatch(/warning: the device's Docker must use the classic image store with the overlay2/);
    const p = platformOf(platform);
    expect(manifest.images.map((i: { reference: string }) => i.reference).sort()).toEqual(
      Object.values(refs).sort(),
    );
    for (const key of ['web', 'api', 'wo'] as const) {
      const entry = manifest.images.find((i: { reference: string }) => i.reference === refs[key]);
      expect(entry.digest).toBe(images[key].top.digest);
      expect(entry.imageId).toBe(platformImage(images[key], p).config.digest);
      expect(entry.names).toEqual([refs[key].replace(/@.*/, ''), `${repos[key]}@${images[key].top.digest}`]);
    }

    const rootfs = await extract(output, `docker-${platform.replace('/', '-')}`);
    device = await startDeviceDocker(rootfs);
    const ls = await device.client(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(ls.code).toBe(0);
    const listed = ls.stdout.trim().split('\n').sort();
    expect(listed).toEqual(
      (['api', 'web', 'wo'] as const)
        .map((k) => `${refs[k].replace(/@.*/, '')} ${platformImage(images[k], p).config.digest.slice(7, 19)}`)
        .sort(),
    );
    const arch = await device.client(['image', 'inspect', '--format', '{{.Architecture}}', refs.wo]);
    expect(arch.stdout.trim()).toBe(p.architecture);
    // Pinned references resolve by digest, as after a pull (docker load alone records no digest).
    for (const key of ['web', 'api', 'wo'] as const) {
      const pinned = `${repos[key]}@${images[key].top.digest}`;
      const byDigest = await device.client(['image', 'inspect', '--format', '{{.Id}}', pinned]);
      expect(byDigest.stdout.trim()).toBe(platformImage(images[key], p).config.digest);
    }
    const apiById = await device.client(['image', 'inspect', '--format', '{{.Id}}', refs.api]);
    expect(apiById.stdout.trim()).toBe(platformImage(images.api, p).config.digest);

    // create + export runs nothing and shows the image's merged layers.
    const created = await device.client(['create', '--platform', platform, refs.wo, '/bin/true']);
    expect(created.code).toBe(0);
    const exported = join(work, `export-${platform.replace('/', '-')}.tar`);
    expect((await device.client(['export', '-o', exported, created.stdout.trim()])).code).toBe(0);
    const tree = join(work, `export-${platform.replace('/', '-')}`);
    mkdirSync(tree);
    expect((await run('tar', ['--numeric-owner', '-C', tree, '-xpf', exported])).code).toBe(0);
    expect(treeEntries(readTree(tree, dockerAddition))).toEqual(expectedTree(platform));
  }, 300_000);
});

describe.each([
  { platform: 'linux/arm64', namespace: undefined, expected: 'moby' },
  { platform: 'linux/amd64', namespace: 'k8s.io', expected: 'k8s.io' },
])('containerd engine (overlayfs), $platform, namespace $expected', ({ platform, namespace, expected }) => {
  let device: DeviceEngine | undefined;
  afterAll(async () => device?.stop());

  test('a second containerd on the extracted store keeps the pinned index digests and mounts the whiteout image correctly', async () => {
    const { output, manifest } = await build({ engine: 'containerd', platform, namespace });
    const identity = await engineIdentity('containerd');
    expect(identity).toEqual({
      engine: 'containerd',
      engineVersion: manifest.engineVersion,
      storageDriver: 'overlayfs',
    });
    expect(manifest).toMatchObject({
      engine: 'containerd',
      storageDriver: 'overlayfs',
      namespace: expected,
      dataRoot: '/var/lib/containerd',
      platform,
    });

    const rootfs = await extract(output, `containerd-${platform.replace('/', '-')}`);
    device = await startDeviceContainerd(rootfs);
    const ls = await device.client(['-n', expected, 'images', 'ls']);
    const rows = ls.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/).slice(0, 3));
    // Every reference, each targeting the registry's top-level document (index or list).
    expect(Object.fromEntries(rows.map(([name, , digest]) => [name, digest]))).toEqual({
      [refs.web]: images.web.top.digest,
      [refs.api]: images.api.top.digest,
      [refs.wo]: images.wo.top.digest,
    });
    expect(rows.find(([name]) => name === refs.api)?.[1]).toBe(
      'application/vnd.docker.distribution.manifest.list.v2+json',
    );

    const mnt = join(work, `mnt-${platform.replace('/', '-')}`);
    mkdirSync(mnt);
    const mounted = await device.client([
      '-n',
      expected,
      'images',
      'mount',
      '--platform',
      platform,
      refs.wo,
      mnt,
    ]);
    expect(mounted.code).toBe(0);
    try {
      expect(treeEntries(readTree(mnt))).toEqual(expectedTree(platform));
    } finally {
      await device.client(['-n', expected, 'images', 'unmount', '--rm', mnt]);
    }
    expect(mountsBelow(mnt)).toEqual([]);
    // The images are in the chosen namespace only.
    const others = expected === 'moby' ? 'k8s.io' : 'moby';
    expect((await device.client(['-n', others, 'images', 'ls', '-q'])).stdout.trim()).toBe('');
  }, 300_000);
});

describe('failures leave nothing behind', () => {
  test('SIGTERM while the engine runs: the engine is stopped, mounts released, no tarball', async () => {
    const tmp = freshTmp('sigterm');
    const outDir = join(work, 'out', 'sigterm');
    const output = join(outDir, 'image-store.tar');
    const child = spawn(
      process.execPath,
      [CLI, 'store', '--layout', layouts['linux/arm64'] as string, '--engine', 'docker', '--output', output],
      { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('starting a private')) resolve();
      });
      child.once('exit', () => reject(new Error(`exited before loading: ${stderr}`)));
    });
    // The engine is up (or starting): its processes mention the private folder.
    expect(processesMentioning(tmp).length).toBeGreaterThan(0);
    const killedAt = Date.now();
    child.kill('SIGTERM');
    const { signal } = await exited;
    expect(signal).toBe('SIGTERM');
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    expect(stderr).toContain('SIGTERM: stopping the private engine');
    expect(existsSync(output)).toBe(false);
    expect(existsSync(`${output}.json`)).toBe(false);
    expectNothingLeft(tmp, outDir);
  }, 120_000);

  test('an engine that cannot start (overlay2 on an overlayfs folder) is one error line quoting it, and nothing is left', async () => {
    // A TMPDIR on overlayfs: dockerd refuses overlay2 there, a real engine failure.
    const ovl = join(work, 'ovl');
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(ovl, d), { recursive: true });
    const merged = join(ovl, 'merged');
    const options = `lowerdir=${ovl}/lower,upperdir=${ovl}/upper,workdir=${ovl}/work`;
    expect((await run('mount', ['-t', 'overlay', 'overlay', '-o', options, merged])).code).toBe(0);
    try {
      const tmp = join(merged, 't');
      mkdirSync(tmp);
      const outDir = join(work, 'out', 'overlay');
      const output = join(outDir, 'image-store.tar');
      const started = Date.now();
      const r = await cli(
        ['store', '--layout', layouts['linux/arm64'] as string, '--engine', 'docker', '--output', output],
        { TMPDIR: tmp },
      );
      expect(r.code).toBe(1);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^error: dockerd stopped while starting: .*(overlay|driver)/);
      expect(errors[0]).toContain('a kernel with overlayfs');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(existsSync(output)).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
      expect(processesMentioning(tmp)).toEqual([]);
      expect(mountsBelow(tmp)).toEqual([]);
    } finally {
      await run('umount', [merged]);
    }
  }, 120_000);

  test('a missing engine names the package to install', async () => {
    const r = await cli(
      [
        'store',
        '--layout',
        layouts['linux/arm64'] as string,
        '--engine',
        'containerd',
        '--output',
        join(work, 'x.tar'),
      ],
      { PATH: '/nonexistent' },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: containerd was not found on PATH: install the Debian/Ubuntu package containerd (sudo apt-get install -y containerd)\n',
    );
  });

  test('without root: one line saying so', async () => {
    const r = await run('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      CLI,
      ...['store', '--layout', layouts['linux/arm64'] as string, '--engine', 'docker'],
      ...['--output', join(work, 'nobody.tar')],
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: building an image store needs root .*running as uid 65534: run it as root \(sudo/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a namespace with the docker engine is a usage mistake', async () => {
    const r = await cli([
      'store',
      ...['--layout', layouts['linux/arm64'] as string, '--engine', 'docker', '--namespace', 'k8s.io'],
      ...['--output', join(work, 'y.tar')],
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: (--namespace: )?a namespace applies to the containerd engine only/);
  });
});
