import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { node24 } from './harness/action-runner.js';
import { cli } from './harness/cli.js';
import { startContainerd, type Containerd } from './harness/containerd.js';
import { run, startDockerEngine, type DockerEngine } from './harness/docker-engine.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { baseLayers, buildImage, platformImage, pushImage, type TestImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const work = mkdtempSync(join(tmpdir(), 'archive-e2e-'));
let registry: TestRegistry;
let engine: DockerEngine;
let containerd: Containerd;
const images: Record<string, TestImage> = {};
let refs: Record<string, string>;
const layout = join(work, 'layout');

beforeAll(async () => {
  [registry, engine, containerd] = await Promise.all([
    startRegistry(),
    startDockerEngine(),
    startContainerd(),
  ]);
  const base = baseLayers('archive-base', 2);
  images.web = buildImage({ seed: 'aweb', base });
  images.api = buildImage({ seed: 'aapi', base, flavour: 'docker' });
  images.zstd = buildImage({ seed: 'azstd', compression: 'zstd' });
  images.broken = buildImage({ seed: 'abroken', badDiffId: true });
  await pushImage(registry.host, 'apps/web', '1.0', images.web as TestImage);
  await pushImage(registry.host, 'apps/api', '2.1', images.api as TestImage);
  await pushImage(registry.host, 'apps/zstd', '1', images.zstd as TestImage);
  await pushImage(registry.host, 'apps/broken', '1', images.broken as TestImage);
  const h = registry.host;
  refs = {
    web: `${h}/apps/web:1.0`,
    // The same image under a second spelling and pinned: one archive entry, one more tag.
    webPinned: `${h}/apps/web:stable@${images.web?.top.digest}`,
    api: `${h}/apps/api:2.1`,
    apiDigestOnly: `${h}/apps/api@${images.api?.top.digest}`,
  };
  const r = await cli([
    'pull',
    ...Object.values(refs).flatMap((x) => ['--image', x]),
    '--platform',
    'linux/arm64',
    '--layout',
    layout,
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
});

afterAll(async () => {
  await Promise.all([registry?.stop(), engine?.stop(), containerd?.stop()]);
});

const diffIds = (img: TestImage) => platformImage(img, ARM64).layers.map((l) => l.diffId);

async function inspect(ref: string): Promise<{ arch: string; layers: string[] }> {
  const r = await engine.docker([
    'image',
    'inspect',
    ref,
    '--format',
    '{{.Architecture}} {{json .RootFS.Layers}}',
  ]);
  if (r.code !== 0) throw new Error(`docker image inspect ${ref}: ${r.stderr}`);
  const [arch, layers] = r.stdout.trim().split(' ');
  return { arch: arch as string, layers: JSON.parse(layers as string) };
}

describe('one multi-image archive (keep)', () => {
  const archive = join(work, 'all.tar');
  beforeAll(async () => {
    const r = await cli(['archive', '--layout', layout, '--archive', archive]);
    if (r.code !== 0) throw new Error(r.stderr);
  });

  test('manifest.json: one entry per image, every tag once, digest-only references untagged', () => {
    const listing = readFileSync(archive);
    const start = listing.indexOf('[{"Config"');
    const manifest = JSON.parse(listing.subarray(start, listing.indexOf(']}]', start) + 3).toString());
    expect(manifest).toHaveLength(2);
    const tags = manifest.map((e: { RepoTags: string[] }) => e.RepoTags.sort());
    expect(tags).toContainEqual([`${registry.host}/apps/web:1.0`, `${registry.host}/apps/web:stable`]);
    expect(tags).toContainEqual([`${registry.host}/apps/api:2.1`]);
  });

  test('shared layers are stored once', async () => {
    const list = await run('tar', ['-tf', archive]);
    const names = list.stdout.trim().split('\n');
    expect(names.length).toBe(new Set(names).size);
    const shared = platformImage(images.web as TestImage, ARM64).layers[0]?.digest.slice(7) as string;
    expect(names.filter((n) => n.endsWith(shared))).toHaveLength(1);
  });

  test('docker load: every tagged reference resolves to the right image', async () => {
    const load = await engine.docker(['load', '-i', archive]);
    expect(load.code).toBe(0);
    expect(await inspect(refs.web as string)).toEqual({
      arch: 'arm64',
      layers: diffIds(images.web as TestImage),
    });
    expect(await inspect(`${registry.host}/apps/web:stable`)).toEqual({
      arch: 'arm64',
      layers: diffIds(images.web as TestImage),
    });
    expect(await inspect(refs.api as string)).toEqual({
      arch: 'arm64',
      layers: diffIds(images.api as TestImage),
    });
  });

  test('ctr images import (containerd): named by the references, digests kept', async () => {
    const r = await containerd.ctr([
      'images',
      'import',
      '--snapshotter',
      'native',
      '--platform',
      'linux/arm64',
      archive,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ls = await containerd.ctr(['images', 'ls', '-q']);
    const names = ls.stdout.trim().split('\n').sort();
    expect(names).toEqual([refs.api, refs.apiDigestOnly, refs.web, refs.webPinned].sort());
    const pinned = await containerd.ctr(['images', 'ls', `name==${refs.webPinned}`]);
    expect(pinned.stdout).toContain(images.web?.top.digest);
  });

  test('podman load (its own store): every tag of every image', async () => {
    const store = mkdtempSync(join(work, 'podman-'));
    const podman = (args: string[]) =>
      run('podman', [
        ...['--root', join(store, 'root'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs'],
        ...['--events-backend', 'none', '--cgroup-manager', 'cgroupfs'],
        ...args,
      ]);
    const load = await podman(['load', '-i', archive]);
    expect(load.code).toBe(0);
    const list = await podman(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    const lines = list.stdout.trim().split('\n').sort();
    const webId = platformImage(images.web as TestImage, ARM64).config.digest.slice(7, 19);
    const apiId = platformImage(images.api as TestImage, ARM64).config.digest.slice(7, 19);
    expect(lines).toEqual(
      [`${refs.api} ${apiId}`, `${refs.web} ${webId}`, `${registry.host}/apps/web:stable ${webId}`].sort(),
    );
  });

  test('skopeo inspects and copies each image of the archive (re-hashing every blob)', async () => {
    for (const [name, img] of [
      [refs.web, images.web],
      [refs.api, images.api],
    ] as const) {
      const i = await run('skopeo', ['inspect', `docker-archive:${archive}:${name}`]);
      expect(i.code).toBe(0);
      // skopeo presents docker-archive layers uncompressed, so it lists diff_ids.
      expect(JSON.parse(i.stdout).Layers).toEqual(diffIds(img as TestImage));
      const c = await run('skopeo', [
        'copy',
        '--insecure-policy',
        `docker-archive:${archive}:${name}`,
        `oci:${mkdtempSync(join(work, 'sk-'))}:x`,
      ]);
      expect(c.code).toBe(0);
    }
  });

  test('deterministic: the same layout gives a byte-identical archive', async () => {
    const again = join(work, 'again.tar');
    expect((await cli(['archive', '--layout', layout, '--archive', again])).code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(archive))).toBe(true);
  });
});

describe('--archive-dir', () => {
  test('one archive per image, with names safe for every file system and upload-artifact, each loadable', async () => {
    const dir = join(work, 'per-image');
    const r = await cli(['archive', '--layout', layout, '--archive-dir', dir]);
    expect(r.code).toBe(0);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    for (const f of files) expect(f).toMatch(/^[A-Za-z0-9._-]+\.tar$/);
    expect(files).toContain(`${registry.host.replace(':', '_')}_apps_api_2.1.tar`);
    for (const f of files) {
      const load = await engine.docker(['load', '-i', join(dir, f)]);
      expect(load.code).toBe(0);
    }
  });
});

describe('--layer-compression none', () => {
  test('layers decompressed, named by diff_id, loadable by docker and skopeo', async () => {
    const archive = join(work, 'none.tar');
    const r = await cli(['archive', '--layout', layout, '--archive', archive, '--layer-compression', 'none']);
    expect(r.code).toBe(0);
    const names = (await run('tar', ['-tf', archive])).stdout.trim().split('\n');
    for (const d of diffIds(images.web as TestImage)) expect(names).toContain(`blobs/sha256/${d.slice(7)}`);
    await engine.docker(['rmi', '-f', refs.api as string]);
    expect((await engine.docker(['load', '-i', archive])).code).toBe(0);
    expect(await inspect(refs.api as string)).toEqual({
      arch: 'arm64',
      layers: diffIds(images.api as TestImage),
    });
    expect((await run('skopeo', ['inspect', `docker-archive:${archive}:${refs.web}`])).code).toBe(0);
  });

  test('a layer whose content does not match its diff_id fails clearly, leaving no archive', async () => {
    const broken = join(work, 'broken-layout');
    expect(
      (
        await cli([
          'pull',
          '--image',
          `${registry.host}/apps/broken:1`,
          '--platform',
          'linux/arm64',
          '--layout',
          broken,
        ])
      ).code,
    ).toBe(0);
    const archive = join(work, 'broken.tar');
    const r = await cli(['archive', '--layout', broken, '--archive', archive, '--layer-compression', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: image ${registry.host}/apps/broken:1: layer sha256:[a-f0-9]+ decompresses to sha256:[a-f0-9]+, but the image config says diff_id sha256:[a-f0-9]+; the image is broken`,
      ),
    );
    expect(readdirSync(work).filter((f) => f.includes('broken.tar'))).toEqual([]);
  });
});

describe('zstd layers', () => {
  const zl = join(work, 'zstd-layout');
  const ref = () => `${registry.host}/apps/zstd:1`;

  test('kept as they are, with a warning that older Docker engines cannot load them', async () => {
    const r = await cli([
      'pull',
      '--image',
      ref(),
      '--platform',
      'linux/arm64',
      '--layout',
      zl,
      '--archive',
      join(work, 'zstd.tar'),
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `warning: ${ref()} has zstd-compressed layers, which Docker Engine before 23.0 cannot load`,
    );
    // Debian's Docker 20.10 is such an engine: the warning is the truth.
    const load = await engine.docker(['load', '-i', join(work, 'zstd.tar')]);
    expect(load.code).not.toBe(0);
    expect(load.stderr).toMatch(/invalid tar header/);
  });

  test.each([
    ['the CLI on Node 20, through the zstd command', process.execPath],
    ['the action runtime, Node 24, through zlib', node24()],
  ])('--layer-compression none decompresses them, checked against diff_ids, on %s', async (_what, node) => {
    const archive = join(work, `zstd-none-${node === process.execPath ? 20 : 24}.tar`);
    const r = await cli(
      ['archive', '--layout', zl, '--archive', archive, '--layer-compression', 'none'],
      {},
      undefined,
      node,
    );
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.code).toBe(0);
    await engine.docker(['rmi', '-f', ref()]);
    const load = await engine.docker(['load', '-i', archive]);
    expect(load.code).toBe(0);
    expect(await inspect(ref())).toEqual({ arch: 'arm64', layers: diffIds(images.zstd as TestImage) });
  });
});

describe('file-system failures: one line naming the real path and what to do, nothing half-written', () => {
  const mounts: string[] = [];
  /** A small real file system (tmpfs), read-only when asked. */
  const tmpfs = (name: string, options: string) => {
    const dir = join(work, name);
    mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const m of mounts) execFileSync('umount', [m]);
  });
  /** The one error line (the layout's digest-only reference adds a warning before it). */
  const errorLine = (stderr: string) => {
    const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    return `${errors[0]}\n`;
  };

  test.each([
    [
      'no room for it: said before a byte is written, with the room needed',
      'size=64k',
      /no space for [0-9.]+ [KMG]iB \(archives\): its file system has 64.0 KiB free; free some space there or use another folder/,
    ],
    [
      'a read-only file system (EROFS)',
      'size=1m,ro',
      /cannot write the archive: its file system is read-only \(EROFS\); write it to a writable place/,
    ],
  ])('%s', async (_what, options, reason) => {
    const dir = tmpfs(`fs-${options.replace(/\W/g, '')}`, options);
    const archive = join(dir, 'images.tar');
    const r = await cli(['archive', '--layout', layout, '--archive', archive]);
    expect(r.code).toBe(1);
    expect(errorLine(r.stderr)).toMatch(new RegExp(`^error: ${archive}: ${reason.source}\n$`));
    expect(readdirSync(dir)).toEqual([]);
  });

  test('permission denied (EACCES), as a user who may not write there', async () => {
    chmodSync(work, 0o755);
    const dir = join(work, 'root-only');
    mkdirSync(dir, { mode: 0o755 });
    const archive = join(dir, 'images.tar');
    // root may write anywhere: run the CLI as nobody.
    const asNobody = join(work, 'node-as-nobody');
    writeFileSync(
      asNobody,
      `#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups ${process.execPath} "$@"\n`,
      { mode: 0o755 },
    );
    const r = await cli(['archive', '--layout', layout, '--archive', archive], {}, undefined, asNobody);
    expect(errorLine(r.stderr)).toBe(
      `error: ${archive}: cannot write the archive: permission denied (EACCES); write it to a folder you can write to\n`,
    );
    expect(r.code).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a directory where the archive should go, and a file where the archive folder should go', async () => {
    const dir = mkdtempSync(join(work, 'in-the-way-'));
    mkdirSync(join(dir, 'images.tar'));
    const a = await cli(['archive', '--layout', layout, '--archive', join(dir, 'images.tar')]);
    expect(errorLine(a.stderr)).toBe(
      `error: ${join(dir, 'images.tar')}: cannot write the archive: a directory is in the way (EISDIR); name a file, not a directory\n`,
    );
    writeFileSync(join(dir, 'per-image'), '');
    const b = await cli(['archive', '--layout', layout, '--archive-dir', join(dir, 'per-image')]);
    expect(errorLine(b.stderr)).toMatch(
      new RegExp(`^error: ${join(dir, 'per-image')}: cannot write the archive folder: a file is in the way`),
    );
    expect(readdirSync(dir).sort()).toEqual(['images.tar', 'per-image']);
  });
});
