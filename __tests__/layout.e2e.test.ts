import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import {
  chmodSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LayoutLock } from '../src/layout/layout-lock.js';
import { refuseInsideLayout } from '../src/layout/layout-paths.js';
import { LayoutStore } from '../src/layout/layout-store.js';
import { UserError } from '../src/util/errors.js';
import { checkWritable } from '../src/util/fs.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { waitFor } from './harness/processes.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { buildImage, pushImage, type TestImage } from './harness/test-images.js';
import { spawnTs } from './harness/ts-process.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKER = join(root, '__tests__', 'fixtures', 'layout-worker.ts');
const MiB = 1 << 20;
const ARM64 = { os: 'linux', architecture: 'arm64' };

let registry: TestRegistry;
let proxy: FaultProxy;
const work = mkdtempSync(join(tmpdir(), 'layout-e2e-'));
const mounts: string[] = [];

/** Writes `size` pseudo-random bytes to `file` in chunks and returns their digest. */
function randomFile(file: string, seed: string, size: number): string {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  const zeros = Buffer.alloc(8 * MiB);
  for (let left = size; left > 0; left -= zeros.length) {
    const chunk = cipher.update(zeros.subarray(0, Math.min(left, zeros.length)));
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  return `sha256:${hash.digest('hex')}`;
}

/** Pushes one blob (streamed from a file) with a monolithic upload. */
async function pushBlob(repo: string, file: string, digest: string): Promise<void> {
  const start = await fetch(`http://${registry.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  expect(start.status).toBe(202);
  const location = new URL(start.headers.get('location') as string, `http://${registry.host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(statSync(file).size) },
    duplex: 'half',
  } as RequestInit);
  expect(put.status).toBe(201);
}

function sha256File(path: string): string {
  return `sha256:${execFileSync('sha256sum', [path]).toString().split(' ')[0]}`;
}

const blobGets = () => proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));

/** `umoci ls` validates oci-layout and index.json as an independent OCI reader. */
function umociLs(layout: string) {
  return spawnSync('umoci', ['ls', '--layout', layout], { encoding: 'utf8' });
}

function mount(args: string[]) {
  execFileSync('mount', args);
  mounts.push(args[args.length - 1] as string);
}

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.url);
});

afterAll(async () => {
  for (const m of mounts.reverse()) spawnSync('umount', [m]);
  await Promise.all([proxy?.stop(), registry?.stop()]);
});

describe('a download killed mid-way', () => {
  test('is continued with a Range request by the next run: only the rest of a 200 MiB blob is served again', async () => {
    const size = 200 * MiB;
    const file = join(work, 'big.bin');
    const digest = randomFile(file, 'big', size);
    await pushBlob('big/blob', file, digest);
    const layout = join(work, 'resume', 'layout');
    const partial = join(layout, '.partial-blobs', digest.slice(7));
    const args = ['download', layout, proxy.host, 'big/blob', digest, String(size)];

    proxy.clear();
    // The connection drops at 55%: the kill then lands while the client waits to resume, however fast the machine.
    proxy.inject({ method: 'GET', path: /\/blobs\//, cutAfterBytes: 110 * MiB });
    const first = spawnTs(WORKER, args);
    await first.line(/resumed 0/);
    await waitFor('half of the blob on disk', async () => statSync(partial).size >= size / 2, 120_000);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(128 + 9);
    const kept = statSync(partial).size;
    // The layout is still valid for OCI readers, and the blob is not under its name.
    expect(umociLs(layout).status).toBe(0);
    expect(existsSync(join(layout, 'blobs', 'sha256', digest.slice(7)))).toBe(false);

    proxy.clear();
    const second = spawnTs(WORKER, args);
    const resumed = Number((await second.line(/resumed (\d+)/))[1]);
    await second.line(/done/, 120_000);
    expect(await second.exited).toBe(0);
    expect(resumed).toBe(kept);
    const gets = blobGets();
    expect(gets.map((r) => [r.headers.range, r.status])).toEqual([[`bytes=${kept}-`, 206]]);
    const servedAgain = gets.reduce((n, r) => n + (r.bytes ?? 0), 0);
    expect(servedAgain).toBe(size - kept);
    expect(kept).toBeGreaterThanOrEqual(size / 2);
    expect(sha256File(join(layout, 'blobs', 'sha256', digest.slice(7)))).toBe(digest);
    expect(existsSync(partial)).toBe(false);
    process.stderr.write(
      `measured: killed with ${(kept / MiB).toFixed(1)} MiB of 200 MiB on disk; ` +
        `rerun asked Range bytes=${kept}- and was served ${(servedAgain / MiB).toFixed(1)} MiB\n`,
    );
  });
});

describe('a pull killed at any point', () => {
  let one: string;
  let two: string;
  let twoImage: TestImage;
  beforeAll(async () => {
    const oneImage = buildImage({ seed: 'kill-one', platforms: [ARM64] });
    twoImage = buildImage({ seed: 'kill-two', platforms: [ARM64], ownLayers: 4, layerSize: 6 * MiB });
    await pushImage(registry.host, 'kill/one', '1', oneImage);
    await pushImage(registry.host, 'kill/two', '1', twoImage);
    one = `${proxy.host}/kill/one:1`;
    two = `${proxy.host}/kill/two:1`;
  });

  /** The layout opens in umoci and skopeo, and the image pulled before reads back whole. */
  function expectReadable(layout: string, copy: string) {
    const ls = umociLs(layout);
    expect(ls.stderr).toBe('');
    expect(ls.status).toBe(0);
    expect(ls.stdout.trim()).toBe(one);
    const inspect = spawnSync('skopeo', ['inspect', '--override-arch', 'arm64', `oci:${layout}:${one}`], {
      encoding: 'utf8',
    });
    expect(inspect.status).toBe(0);
    expect(JSON.parse(inspect.stdout).Architecture).toBe('arm64');
    // skopeo copy re-hashes every blob it reads.
    const cp = spawnSync(
      'skopeo',
      ['copy', '--override-arch', 'arm64', `oci:${layout}:${one}`, `oci:${copy}:one`],
      { encoding: 'utf8' },
    );
    expect(cp.stderr).toBe('');
    expect(cp.status).toBe(0);
  }

  test('a new layout is valid (empty) from the moment it exists', async () => {
    const layout = join(work, 'kill-new', 'layout');
    // The registry holds every request back, so the run cannot finish before it is killed.
    proxy.inject({ path: /./, stallMs: 60_000, times: 1000 });
    const w = spawnTs(WORKER, ['pull', layout, 'linux/arm64', two]);
    await waitFor('the layout folder', async () => existsSync(layout), 60_000);
    w.child.kill('SIGKILL');
    await w.exited;
    proxy.clear();
    const ls = umociLs(layout);
    expect(ls.status).toBe(0);
    expect(ls.stdout).toBe('');
  });

  test('mid-layer, and with some layers done and others outstanding, the layout stays valid; a rerun completes it', async () => {
    const layout = join(work, 'kill-points', 'layout');
    const first = spawnTs(WORKER, ['pull', layout, 'linux/arm64', one]);
    await first.line(/pulled/);
    const blobsOfOne = readdirSync(join(layout, 'blobs', 'sha256')).length;

    // Kill point 1: a layer partly written (every response cut after 1.5 MiB keeps it partial).
    const partials = join(layout, '.partial-blobs');
    proxy.inject({ method: 'GET', path: /\/kill\/two\/blobs\//, cutAfterBytes: 1.5 * MiB, times: 1000 });
    const mid = spawnTs(WORKER, ['pull', layout, 'linux/arm64', one, two]);
    await waitFor(
      'a partial layer',
      async () => readdirSync(partials).some((f) => statSync(join(partials, f)).size > 0),
      60_000,
    );
    mid.child.kill('SIGKILL');
    await mid.exited;
    proxy.clear();
    expectReadable(layout, join(work, 'kill-points', 'copy1'));

    // Kill point 2: the last layer held back by the registry while the others complete.
    const last = twoImage.platforms[0]?.layers.at(-1)?.digest as string;
    proxy.inject({ method: 'GET', path: new RegExp(`/blobs/${last}`), stallMs: 60_000 });
    const some = spawnTs(WORKER, ['pull', layout, 'linux/arm64', one, two]);
    await waitFor(
      'layers of the second image',
      async () => readdirSync(join(layout, 'blobs', 'sha256')).length >= blobsOfOne + 5,
      60_000,
    );
    some.child.kill('SIGKILL');
    await some.exited;
    proxy.clear();
    expectReadable(layout, join(work, 'kill-points', 'copy2'));

    const rerun = spawnTs(WORKER, ['pull', layout, 'linux/arm64', one, two]);
    await rerun.line(/pulled/, 60_000);
    expect(await rerun.exited).toBe(0);
    expect(readdirSync(partials)).toEqual([]);
    expect(umociLs(layout).stdout.trim().split('\n').sort()).toEqual([one, two].sort());
  });
});

describe('the layout lock across processes', () => {
  test('a second process waits, saying so once, and takes over the moment the holder dies', async () => {
    const layout = join(work, 'lock-takeover', 'layout');
    const holder = spawnTs(WORKER, ['lock', layout]);
    await holder.line(/locked/);
    const lines: string[] = [];
    const logger = { info: (m: string) => lines.push(m), debug: () => undefined };
    const waiting = LayoutLock.acquire(layout, { timeoutMs: 60_000, logger });
    await new Promise((r) => setTimeout(r, 500));
    const killed = Date.now();
    holder.child.kill('SIGKILL');
    const lock = await waiting;
    const tookOver = Date.now() - killed;
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(`^waiting for pid ${holder.pid}, which is using the layout ${layout} since `),
      ),
    ]);
    expect(tookOver).toBeLessThan(2000);
    await lock.release();

    // A lock left by a process that died before this one started: no wait at all.
    const dead = spawnTs(WORKER, ['lock', layout]);
    await dead.line(/locked/);
    dead.child.kill('SIGKILL');
    await dead.exited;
    const started = process.hrtime.bigint();
    const fresh = await LayoutLock.acquire(layout, { timeoutMs: 0 });
    const atOnce = Number(process.hrtime.bigint() - started) / 1e6;
    await fresh.release();
    expect(atOnce).toBeLessThan(500);
    process.stderr.write(
      `measured: a waiting process took over ${tookOver} ms after the holder was killed; ` +
        `a lock left by a dead process was taken over in ${atOnce.toFixed(1)} ms\n`,
    );
  });

  test('a process that waits past its timeout fails with one line', async () => {
    const layout = join(work, 'lock-timeout', 'layout');
    const lock = await LayoutLock.acquire(layout);
    const w = spawnTs(WORKER, ['lock', layout], { LOCK_TIMEOUT_MS: '500' });
    expect(await w.exited).toBe(1);
    expect(w.stderr()).toMatch(
      new RegExp(
        `^waiting for pid ${process.pid}, which is using the layout ${layout} since .*\\n` +
          `error: the layout ${layout} is still in use by pid ${process.pid} after waiting 0.5 s\\n$`,
      ),
    );
    await lock.release();
  });

  test('of many processes taking over one dead lock at once, exactly one holds it at a time', async () => {
    const layout = join(work, 'lock-race', 'layout');
    mkdirSync(dirname(layout), { recursive: true });
    const dead = spawnSync('true').pid as number;
    writeFileSync(
      join(dirname(layout), '.layout.lock'),
      JSON.stringify({ pid: dead, host: hostname(), since: 'then', token: 'deadbeefdeadbeef' }),
    );
    const log = join(work, 'lock-race', 'log');
    writeFileSync(log, '');
    const go = join(work, 'lock-race', 'go');
    const workers = Array.from({ length: 6 }, () => spawnTs(WORKER, ['critical', layout, log, go]));
    await Promise.all(workers.map((w) => w.line(/ready/)));
    writeFileSync(go, '');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual(workers.map(() => 0));
    const events = readFileSync(log, 'utf8').trim().split('\n');
    expect(events).toHaveLength(12);
    for (let i = 0; i < events.length; i += 2) {
      const pid = events[i]?.split(' ')[1];
      expect([events[i], events[i + 1]]).toEqual([`enter ${pid}`, `exit ${pid}`]);
    }
    expect(readdirSync(dirname(layout)).filter((f) => f.startsWith('.layout.lock'))).toEqual([]);
  });

  test('two pulls of different images on one layout both finish with every blob they need', async () => {
    const a = buildImage({ seed: 'two-pulls-a', platforms: [ARM64], ownLayers: 3, layerSize: 2 * MiB });
    const b = buildImage({ seed: 'two-pulls-b', platforms: [ARM64], ownLayers: 3, layerSize: 2 * MiB });
    await pushImage(registry.host, 'two/a', '1', a);
    await pushImage(registry.host, 'two/b', '1', b);
    const layout = join(work, 'two-pulls', 'layout');
    const pulls = [`${registry.host}/two/a:1`, `${registry.host}/two/b:1`].map((ref) =>
      spawnTs(WORKER, ['pull', layout, 'linux/arm64', ref]),
    );
    const codes = await Promise.all(pulls.map((p) => p.exited));
    expect(pulls.map((p) => p.stderr().match(/^error: .*/m)?.[0] ?? '')).toEqual(['', '']);
    expect(codes).toEqual([0, 0]);
    expect(pulls.map((p) => p.stdout())).toEqual([
      `pulled ${registry.host}/two/a:1\n`,
      `pulled ${registry.host}/two/b:1\n`,
    ]);
    // One of them waited for the other, and said so.
    expect(pulls.filter((p) => /^waiting for pid \d+/m.test(p.stderr()))).toHaveLength(1);
  });
});

describe('SIGINT and SIGTERM', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    test(`${signal}: this run's temporaries are removed, the lock released, partial downloads kept; exit ${code}`, async () => {
      const layout = join(work, `signal-${signal}`, 'layout');
      const w = spawnTs(WORKER, ['interrupt', layout]);
      const tmp = (await w.line(/ready (\S+)/))[1] as string;
      expect(existsSync(tmp)).toBe(true);
      expect(existsSync(join(dirname(layout), '.layout.lock'))).toBe(true);
      w.child.kill(signal);
      expect(await w.exited).toBe(code);
      expect(w.stderr()).toBe(`stopped by ${signal}: removing temporary files and releasing the layout\n`);
      expect(existsSync(tmp)).toBe(false);
      expect(readdirSync(dirname(layout))).toEqual(['layout']);
      expect(
        readdirSync(join(layout, '.partial-blobs')).map(
          (f) => statSync(join(layout, '.partial-blobs', f)).size,
        ),
      ).toEqual([5]);
      expect(umociLs(layout).status).toBe(0);
    });
  }
});

describe('file-system failures', () => {
  let small: { digest: string; size: number };
  beforeAll(async () => {
    const file = join(work, 'small.bin');
    small = { digest: randomFile(file, 'small', 3 * MiB), size: 3 * MiB };
    await pushBlob('fs/blob', file, small.digest);
  });

  test('a full disk (2 MiB tmpfs) is one line naming the blob, and is foreseen by checkWritable', async () => {
    const mnt = join(work, 'tmpfs');
    mkdirSync(mnt);
    mount(['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    const layout = join(mnt, 'layout');
    const err = (await checkWritable(layout, { needBytes: small.size }).catch((e) => e)) as UserError;
    expect(err.located).toMatch(
      new RegExp(`^${layout}: no space for 3.0 MiB: its file system has 2.0 MiB free; `),
    );

    const w = spawnTs(WORKER, [
      'download',
      layout,
      registry.host,
      'fs/blob',
      small.digest,
      String(small.size),
    ]);
    expect(await w.exited).toBe(1);
    const line = w.stderr().trim().split('\n').at(-1);
    expect(line).toBe(
      `error: ${join(layout, 'blobs', 'sha256', small.digest.slice(7))}: no space left on device: free some space there or use another folder`,
    );
    process.stderr.write(`measured: tmpfs full: ${line}\n`);
    expect(umociLs(layout).status).toBe(0);
    expect(readdirSync(dirname(layout))).toEqual(['layout']);
  });

  test('an output inside the layout is refused also through a bind mount of it (same folder, other path)', async () => {
    const layout = join(work, 'bind-src', 'layout');
    await LayoutStore.open(layout, { create: true });
    const other = join(work, 'bind-other');
    mkdirSync(other);
    mount(['--bind', layout, other]);
    const err = (await refuseInsideLayout(layout, [
      { path: join(other, 'index.json'), what: 'archive file', option: 'archive' },
    ]).catch((e) => e)) as UserError;
    expect(err.message).toBe(
      `the archive file ${join(other, 'index.json')} is inside the layout ${layout}: writing it would damage the layout; choose a path outside it`,
    );
    await refuseInsideLayout(layout, [{ path: join(work, 'bind-src', 'images.tar'), what: 'archive file' }]);
  });

  test('a layout another user owns: one line naming the folder to make writable', async () => {
    const layout = join(work, 'perm', 'layout');
    await LayoutStore.open(layout, { create: true });
    const nobody = { uid: 65534, gid: 65534 };
    // The layout's folders are root's and readable by all, as `sudo cache-images pull` leaves them.
    chmodSync(work, 0o755);
    const w = spawnTs(
      WORKER,
      ['download', layout, registry.host, 'fs/blob', small.digest, String(small.size)],
      {},
      nobody,
    );
    expect(await w.exited).toBe(1);
    expect(w.stderr()).toBe(
      `error: ${dirname(layout)}: permission denied: make it writable for this user or use another folder\n`,
    );
    const nolock = spawnTs(
      WORKER,
      ['download', layout, registry.host, 'fs/blob', small.digest, String(small.size), 'nolock'],
      {},
      nobody,
    );
    expect(await nolock.exited).toBe(1);
    expect(nolock.stderr()).toBe(
      `error: ${join(layout, 'blobs', 'sha256', small.digest.slice(7))}: permission denied: make it writable for this user or use another folder\n`,
    );
  });

  test('a read-only file system: one line naming the folder; an existing layout can still be read', async () => {
    const src = join(work, 'ro-src');
    await LayoutStore.open(join(src, 'layout'), { create: true });
    const ro = join(work, 'ro');
    mkdirSync(ro);
    mount(['--bind', src, ro]);
    execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
    const layout = join(ro, 'layout');

    const check = (await checkWritable(layout).catch((e) => e)) as UserError;
    expect(check.located).toBe(`${layout}: read-only file system: use a writable folder`);
    const create = (await LayoutStore.open(join(ro, 'new'), { create: true }).catch((e) => e)) as UserError;
    expect(create.located).toBe(`${join(ro, 'new')}: read-only file system: use a writable folder`);
    const store = await LayoutStore.open(layout, { create: true });
    const write = (await store.createBlobWriter(small).catch((e) => e)) as UserError;
    expect(write.located).toBe(
      `${store.blobPath(small.digest)}: read-only file system: use a writable folder`,
    );
    // Nobody can change a read-only layout, so reading it needs no lock.
    const lock = await LayoutLock.acquire(layout, { timeoutMs: 0 });
    expect(lock.path).toBeUndefined();
    await lock.release();
  });
});
