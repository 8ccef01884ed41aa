import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineComplaint } from '../src/store/daemon.js';
import { requireRoot } from '../src/store/host-tools.js';
import { mountsUnder } from '../src/store/mounts.js';
import { storeCacheKey, parseEngineVersion, type StoreKeyInput } from '../src/store/store-key.js';
import { deviceRequirement } from '../src/store/store-manifest.js';
import { tarMembers } from '../src/store/store-tarball.js';
import type { StoreManifest } from '../src/store/store-types.js';
import { UserError } from '../src/util/errors.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const base: StoreKeyInput = {
  images: [
    { reference: 'ghcr.io/a/b:1', digest: digest('a') },
    { reference: 'docker.io/library/c:2', digest: digest('b') },
  ],
  platform: 'linux/arm64',
  engine: 'containerd',
  engineVersion: '1.6.20~ds1',
  storageDriver: 'overlayfs',
  namespace: 'moby',
};

describe('storeCacheKey', () => {
  test('names the engine and platform, and is the same for the same inputs in any order', () => {
    const key = storeCacheKey(base);
    expect(key).toMatch(/^cache-images-store-containerd-linux-arm64-[a-f0-9]{32}$/);
    expect(storeCacheKey({ ...base, images: [...base.images].reverse() })).toBe(key);
    // The defaults are what the build uses: moby, /var/lib/containerd.
    expect(storeCacheKey({ ...base, namespace: undefined, dataRoot: '/var/lib/containerd' })).toBe(key);
  });

  test('changes with every input that makes a different store', () => {
    const key = storeCacheKey(base);
    const variants: Partial<StoreKeyInput>[] = [
      { images: [{ reference: 'ghcr.io/a/b:1', digest: digest('c') }, base.images[1] as never] },
      { images: [base.images[0] as never] },
      { platform: 'linux/arm/v7' },
      { engine: 'docker', storageDriver: 'overlay2', namespace: undefined },
      { engineVersion: '1.7.27' },
      { storageDriver: 'native' },
      { namespace: 'k8s.io' },
      { dataRoot: '/var/lib/rancher/k3s/agent/containerd' },
      { prefix: 'other' },
    ];
    const keys = variants.map((v) => storeCacheKey({ ...base, ...v }));
    expect(new Set([key, ...keys]).size).toBe(variants.length + 1);
  });

  test("a namespace does not split Docker's classic store, which has none", () => {
    const docker = { ...base, engine: 'docker' as const, storageDriver: 'overlay2' };
    expect(storeCacheKey({ ...docker, namespace: 'x' })).toBe(
      storeCacheKey({ ...docker, namespace: undefined }),
    );
  });
});

test('parseEngineVersion reads dockerd and containerd --version lines', () => {
  expect(parseEngineVersion('Docker version 20.10.24+dfsg1, build 5d6db84\n')).toBe('20.10.24+dfsg1');
  expect(parseEngineVersion('Docker version 28.0.4, build b8034c0')).toBe('28.0.4');
  expect(
    parseEngineVersion('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n'),
  ).toBe('1.6.20~ds1');
  expect(parseEngineVersion('containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da')).toBe(
    '1.7.27',
  );
  expect(parseEngineVersion('containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7')).toBe('2.1.4');
  expect(parseEngineVersion('no version here')).toBeUndefined();
});

describe('engineComplaint', () => {
  test("picks dockerd's bare failure line over the info lines after it", () => {
    const log = [
      'time="2026-12-01T16:49:34Z" level=info msg="Starting up"',
      'failed to start daemon: error initializing graphdriver: driver not supported',
      'time="2026-12-01T16:49:34Z" level=info msg="stopping event stream" module=libcontainerd',
    ].join('\n');
    // The last line without a level is the bare one; info lines after it are skipped.
    expect(engineComplaint(log)).toBe(
      'failed to start daemon: error initializing graphdriver: driver not supported',
    );
  });

  test('reads msg and error of the last error entry, quoted or not', () => {
    const log = [
      'time="x" level=error msg="failed to load plugin" error="exec: \\"zfs\\": not found" id=io.containerd.zfs',
      'time="x" level=fatal msg=bailing error=boom',
      'time="x" level=warning msg="harmless"',
    ].join('\n');
    expect(engineComplaint(log)).toBe('bailing: boom');
    expect(engineComplaint(log.split('\n')[0] as string)).toBe(
      'failed to load plugin: exec: "zfs": not found',
    );
  });

  test('falls back to the last lines', () => {
    expect(engineComplaint('time="x" level=info msg=a\ntime="x" level=info msg=b')).toBe(
      'time="x" level=info msg=a | time="x" level=info msg=b',
    );
  });
});

test('tarMembers: the data root and intermediate folders bare, the store folders whole', () => {
  expect(tarMembers('/var/lib/docker/', ['image/overlay2', 'overlay2'])).toEqual({
    bare: ['var/lib/docker', 'var/lib/docker/image'],
    full: ['var/lib/docker/image/overlay2', 'var/lib/docker/overlay2'],
  });
  expect(tarMembers('/var/lib/rancher/k3s/agent/containerd', ['io.containerd.content.v1.content'])).toEqual({
    bare: ['var/lib/rancher/k3s/agent/containerd'],
    full: ['var/lib/rancher/k3s/agent/containerd/io.containerd.content.v1.content'],
  });
});

test('mountsUnder: escaped paths, only below the folder, deepest first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mounts-'));
  const table = join(dir, 'mounts');
  writeFileSync(
    table,
    [
      '/dev/vda / ext4 rw 0 0',
      '/dev/vda /tmp/cis-1/rootfs/var/lib/docker ext4 rw 0 0',
      'overlay /tmp/cis-1/rootfs/var/lib/docker/overlay2/abc/merged overlay rw 0 0',
      'overlay /tmp/cis-1/with\\040space overlay rw 0 0',
      '/dev/vda /tmp/cis-10 ext4 rw 0 0',
    ].join('\n'),
  );
  expect(await mountsUnder('/tmp/cis-1', table)).toEqual([
    '/tmp/cis-1/rootfs/var/lib/docker/overlay2/abc/merged',
    '/tmp/cis-1/rootfs/var/lib/docker',
    '/tmp/cis-1/with space',
  ]);
  expect(await mountsUnder('/tmp/cis-1', join(dir, 'missing'))).toEqual([]);
});

test('requireRoot: one line with a code the front ends advise on', () => {
  expect(() => requireRoot(0)).not.toThrow();
  let err: unknown;
  try {
    requireRoot(1000);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserError);
  expect((err as UserError).code).toBe('needs-root');
  expect((err as UserError).message).toContain('running as uid 1000');
});

describe('deviceRequirement', () => {
  const manifest: StoreManifest = {
    engine: 'docker',
    engineVersion: '20.10.24',
    storageDriver: 'overlay2',
    dataRoot: '/var/lib/docker',
    platform: 'linux/arm64',
    images: [],
    tarball: 'image-store.tar',
    size: 0,
    extract: '',
  };

  test('docker: the docker info fields that must match', () => {
    const text = deviceRequirement(manifest);
    expect(text).toContain('"Storage Driver: overlay2"');
    expect(text).toContain('"Docker Root Dir: /var/lib/docker"');
    expect(text).toContain('containerd-snapshotter');
    expect(text).toContain('while the engine is stopped');
  });

  test("containerd: Docker's containerd store for moby, ctr for another namespace", () => {
    const ctd = { ...manifest, engine: 'containerd' as const, storageDriver: 'overlayfs' };
    expect(deviceRequirement({ ...ctd, namespace: 'moby', dataRoot: '/var/lib/containerd' })).toContain(
      'driver-type: io.containerd.snapshotter.v1',
    );
    const k3s = deviceRequirement({
      ...ctd,
      namespace: 'k8s.io',
      dataRoot: '/var/lib/rancher/k3s/agent/containerd',
    });
    expect(k3s).toContain("'ctr -n k8s.io images ls'");
    expect(k3s).toContain('root = "/var/lib/rancher/k3s/agent/containerd"');
  });
});
