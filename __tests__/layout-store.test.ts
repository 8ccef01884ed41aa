import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuseInsideLayout } from '../src/layout/layout-paths.js';
import { BlobMismatchError, LayoutStore } from '../src/layout/layout-store.js';
import { UserError } from '../src/util/errors.js';
import { asFileSystemError, checkWritable, checkWritableFile, writeFileAtomic } from '../src/util/fs.js';
import { pseudoRandom } from './harness/test-images.js';

const work = mkdtempSync(join(tmpdir(), 'layout-store-'));
let n = 0;
const fresh = () => join(work, `case-${n++}`, 'layout');
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function blob(size: number, seed = `blob-${n}`) {
  const bytes = pseudoRandom(seed, size);
  return { bytes, desc: { digest: digestOf(bytes), size } };
}

/** Feeds bytes in chunks as a download would. */
async function feed(writer: { write(c: Buffer): Promise<void> }, bytes: Buffer, chunk = 256 * 1024) {
  for (let at = 0; at < bytes.length; at += chunk) await writer.write(bytes.subarray(at, at + chunk));
}

async function userError(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

describe('a new layout', () => {
  test('is valid before the first blob: oci-layout, an empty index.json, blobs/sha256, nothing else', async () => {
    const dir = fresh();
    await LayoutStore.open(dir, { create: true });
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests).toEqual([]);
    expect(readdirSync(join(dir, 'blobs', 'sha256'))).toEqual([]);
    // Built under a temporary name and renamed: nothing else next to it.
    expect(readdirSync(join(dir, '..'))).toEqual(['layout']);
  });

  test('an existing empty folder (a mount point) is completed in place', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    await LayoutStore.open(dir, { create: true });
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  test('without create, a folder that is no layout is a layout error', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    const err = await userError(LayoutStore.open(dir, { create: false }));
    expect(err.code).toBe('layout');
  });
});

describe('resuming a blob', () => {
  test('a writer continues the bytes an aborted one left, and the blob is whole', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const { bytes, desc } = blob(5 * 1024 * 1024 + 123);
    const first = await store.createBlobWriter(desc);
    expect(first.written).toBe(0);
    await feed(first, bytes.subarray(0, 3 * 1024 * 1024 + 7));
    await first.abort();
    expect(statSync(store.partialPath(desc.digest)).size).toBe(3 * 1024 * 1024 + 7);
    expect(await store.hasBlob(desc)).toBe(false);

    const second = await store.createBlobWriter(desc);
    expect(second.written).toBe(3 * 1024 * 1024 + 7);
    expect(second.resumedFrom).toBe(3 * 1024 * 1024 + 7);
    await feed(second, bytes.subarray(second.written));
    await second.commit();
    expect(readFileSync(store.blobPath(desc.digest)).equals(bytes)).toBe(true);
    expect(existsSync(store.partialPath(desc.digest))).toBe(false);
  });

  test('damaged bytes in a partial are caught at commit and the partial is removed', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const { bytes, desc } = blob(2 * 1024 * 1024);
    const damaged = Buffer.from(bytes.subarray(0, 1024 * 1024));
    damaged[10] = (damaged[10] as number) ^ 1;
    mkdirSync(join(store.dir, '.partial-blobs'));
    writeFileSync(store.partialPath(desc.digest), damaged);
    const writer = await store.createBlobWriter(desc);
    await feed(writer, bytes.subarray(writer.written));
    await expect(writer.commit()).rejects.toBeInstanceOf(BlobMismatchError);
    expect(existsSync(store.partialPath(desc.digest))).toBe(false);
    expect(await store.hasBlob(desc)).toBe(false);
  });

  test('a complete partial keeps one byte to fetch; one longer than the blob starts over', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const { bytes, desc } = blob(4096);
    mkdirSync(join(store.dir, '.partial-blobs'));
    writeFileSync(store.partialPath(desc.digest), bytes);
    const complete = await store.createBlobWriter(desc);
    expect(complete.written).toBe(4095);
    await complete.write(bytes.subarray(4095));
    await complete.commit();
    expect(await store.verifyBlob(desc)).toBe(true);

    const other = blob(4096, 'other');
    writeFileSync(store.partialPath(other.desc.digest), Buffer.alloc(5000));
    const writer = await store.createBlobWriter(other.desc);
    expect(writer.written).toBe(0);
    await writer.abort();
  });

  test('reset (a server that ignored Range) starts the partial over', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const { bytes, desc } = blob(3 * 1024 * 1024);
    const writer = await store.createBlobWriter(desc);
    await feed(writer, bytes.subarray(0, 2 * 1024 * 1024));
    await writer.reset();
    expect(writer.written).toBe(0);
    await feed(writer, bytes);
    await writer.commit();
    expect(await store.verifyBlob(desc)).toBe(true);
  });

  test('a second writer of one digest waits for the first instead of interleaving', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const { bytes, desc } = blob(2 * 1024 * 1024);
    const first = await store.createBlobWriter(desc);
    let secondOpened = false;
    const second = store.createBlobWriter(desc).then((w) => {
      secondOpened = true;
      return w;
    });
    await feed(first, bytes);
    await new Promise((r) => setTimeout(r, 50));
    expect(secondOpened).toBe(false);
    await first.commit();
    const w = await second;
    expect(w.written).toBe(0);
    await w.abort();
    expect(await store.verifyBlob(desc)).toBe(true);
  });
});

describe('garbage collection', () => {
  test('removes unneeded blobs and partials, keeps partials still needed or being written', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const kept = blob(1000, 'kept');
    const gone = blob(1000, 'gone');
    await store.putBytes(kept.desc.digest, kept.bytes);
    await store.putBytes(gone.desc.digest, gone.bytes);
    const needed = blob(5000, 'needed');
    const unneeded = blob(5000, 'unneeded');
    const writing = blob(5000, 'writing');
    for (const b of [needed, unneeded]) {
      const w = await store.createBlobWriter(b.desc);
      await w.write(b.bytes.subarray(0, 100));
      await w.abort();
    }
    // A partial of a blob that is complete anyway.
    mkdirSync(join(store.dir, '.partial-blobs'), { recursive: true });
    writeFileSync(store.partialPath(kept.desc.digest), kept.bytes.subarray(0, 10));
    const open = await store.createBlobWriter(writing.desc);
    await open.write(writing.bytes.subarray(0, 100));

    const removed = await store.removeBlobsExcept(new Set([kept.desc.digest, needed.desc.digest]));
    expect(removed).toEqual({ blobs: 1, bytes: 1000, partials: 2, partialBytes: 110 });
    expect(existsSync(store.partialPath(needed.desc.digest))).toBe(true);
    expect(existsSync(store.partialPath(unneeded.desc.digest))).toBe(false);
    expect(existsSync(store.partialPath(kept.desc.digest))).toBe(false);
    await feed(open, writing.bytes.subarray(100));
    await open.commit();
    expect(await store.verifyBlob(writing.desc)).toBe(true);
  });

  test('partials untouched for longer than the limit are removed with abandoned temporaries', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const old = blob(100, 'old');
    const recent = blob(100, 'recent');
    for (const b of [old, recent]) {
      const w = await store.createBlobWriter(b.desc);
      await w.write(b.bytes.subarray(0, 50));
      await w.abort();
    }
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000);
    utimesSync(store.partialPath(old.desc.digest), eightDaysAgo, eightDaysAgo);
    await store.removeAbandonedTemporaries();
    expect(existsSync(store.partialPath(old.desc.digest))).toBe(false);
    expect(existsSync(store.partialPath(recent.desc.digest))).toBe(true);
  });
});

describe('temporaries of killed runs', () => {
  test('are removed in the layout and next to it (layout and lock being made), those of live runs stay', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const parent = join(store.dir, '..');
    const dead = spawnSync('true').pid as number;
    const names = {
      skeleton: `.layout.${dead}-0123abcd.tmp`,
      lock: `..layout.lock.${dead}-0123abcd.tmp`,
      other: `.unrelated.${dead}-0123abcd.tmp`,
      live: `.layout.${process.pid}-0123abcd.tmp`,
    };
    mkdirSync(join(parent, names.skeleton, 'blobs'), { recursive: true });
    for (const name of [names.lock, names.other, names.live]) writeFileSync(join(parent, name), '');
    writeFileSync(join(store.dir, 'blobs', 'sha256', `.abc.${dead}-0123abcd.tmp`), '');
    writeFileSync(join(store.dir, `.index.json.${dead}-0123abcd.tmp`), '');
    await store.removeAbandonedTemporaries();
    expect(readdirSync(parent).sort()).toEqual([names.live, names.other, 'layout'].sort());
    expect(readdirSync(store.dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect(readdirSync(join(store.dir, 'blobs', 'sha256'))).toEqual([]);
  });
});

describe('file-system failures name the real path', () => {
  test('index.json that is a folder', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const index = join(store.dir, 'index.json');
    await import('node:fs/promises').then((fs) => fs.rm(index));
    mkdirSync(index);
    const read = await userError(store.readIndex());
    expect(read.code).toBe('file-system');
    expect(read.located).toBe(
      `${index}: a folder where a file is expected: remove it or choose another path`,
    );
    const write = await userError(store.writeIndex([]));
    expect(write.located).toBe(read.located);
    // The temporary the write went to is gone, and never named.
    expect(readdirSync(store.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('oci-layout that is a folder', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'oci-layout'), { recursive: true });
    const err = await userError(LayoutStore.open(dir, { create: true }));
    expect(err.code).toBe('file-system');
    expect(err.file).toBe(join(dir, 'oci-layout'));
  });

  test('a blob name taken by a folder', async () => {
    const store = await LayoutStore.open(fresh(), { create: true });
    const { bytes, desc } = blob(100);
    mkdirSync(join(store.blobPath(desc.digest), 'x'), { recursive: true });
    const writer = await store.createBlobWriter(desc);
    await writer.write(bytes);
    const err = await userError(writer.commit());
    expect(err.code).toBe('file-system');
    expect(err.located).toBe(
      `${store.blobPath(desc.digest)}: a folder where a file is expected: remove it or choose another path`,
    );
  });

  test('every failure of the list becomes one line; others stay as they are', () => {
    const path = join(work, 'dir', '.file.tar.1234-abcdef01.tmp');
    const fail = (code: string) =>
      asFileSystemError(Object.assign(new Error(code), { code }), path) as UserError;
    expect(fail('ENOSPC').located).toBe(
      `${join(work, 'dir', 'file.tar')}: no space left on device: free some space there or use another folder`,
    );
    expect(fail('EROFS').message).toBe('read-only file system: use a writable folder');
    expect(fail('EACCES').message).toContain('permission denied');
    expect(fail('EACCES').file).toBe(join(work, 'dir', 'file.tar'));
    const other = new Error('bug');
    expect(asFileSystemError(other, path)).toBe(other);
  });

  test('writeFileAtomic over a folder fails naming the file, leaving no temporary', async () => {
    const dir = join(work, `atomic-${n++}`);
    mkdirSync(join(dir, 'report.json'), { recursive: true });
    const err = await userError(writeFileAtomic(join(dir, 'report.json'), '{}'));
    expect(err.file).toBe(join(dir, 'report.json'));
    expect(readdirSync(dir)).toEqual(['report.json']);
  });
});

describe('checks before any download', () => {
  test('checkWritable creates the folder, and refuses a file in its place', async () => {
    const dir = join(work, `check-${n++}`, 'a', 'b');
    await checkWritable(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(join(dir, 'file'), '');
    const err = await userError(checkWritable(join(dir, 'file', 'sub')));
    expect(err.code).toBe('file-system');
    expect(err.file).toBe(join(dir, 'file', 'sub'));
  });

  test('checkWritable with needBytes refuses a file system without the room', async () => {
    const dir = join(work, `room-${n++}`);
    await checkWritable(dir, { needBytes: 1024 });
    const err = await userError(checkWritable(dir, { needBytes: 2 ** 50 }));
    expect(err.code).toBe('file-system');
    expect(err.located).toMatch(
      new RegExp(`^${dir}: no space for 1024\\.0 TiB: its file system has .* free`),
    );
  });

  test('checkWritableFile refuses a folder where the file would go', async () => {
    const dir = join(work, `out-${n++}`);
    mkdirSync(join(dir, 'images.tar'), { recursive: true });
    const err = await userError(checkWritableFile(join(dir, 'images.tar')));
    expect(err.located).toBe(
      `${join(dir, 'images.tar')}: a folder where a file is expected: remove it or choose another path`,
    );
    await checkWritableFile(join(dir, 'other.tar'));
  });
});

describe('refuseInsideLayout', () => {
  const setup = async () => {
    const dir = fresh();
    await LayoutStore.open(dir, { create: true });
    symlinkSync(dir, join(dir, '..', 'alias'));
    return dir;
  };

  test('refuses the layout, anything in it, and other spellings of it', async () => {
    const dir = await setup();
    const inside = [
      join(dir, 'index.json'),
      dir,
      join(dir, 'new-folder', 'images.tar'),
      join(dir, '..', 'layout', 'blobs'),
      join(dir, '..', 'alias', 'index.json'),
      join(dir, '..', 'alias'),
    ];
    for (const path of inside) {
      const err = await userError(
        refuseInsideLayout(dir, [{ path, what: 'archive file', option: 'archive' }]),
      );
      expect(err.code).toBe('invalid-input');
      expect(err.option).toBe('archive');
      expect(err.message).toBe(
        `the archive file ${path} is inside the layout ${dir}: writing it would damage the layout; choose a path outside it`,
      );
    }
    expect(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests).toEqual([]);
  });

  test('lets paths next to it through, also before the layout exists', async () => {
    const dir = await setup();
    await refuseInsideLayout(dir, [
      { path: join(dir, '..', 'images.tar'), what: 'archive file' },
      { path: `${dir}2/x.tar`, what: 'archive file' },
      { path: join(dir, '..', 'archives'), what: 'archive folder' },
    ]);
    const future = fresh();
    await refuseInsideLayout(future, [{ path: join(future, '..', 'x.tar'), what: 'archive file' }]);
    await expect(
      refuseInsideLayout(future, [{ path: join(future, 'x.tar'), what: 'report file' }]),
    ).rejects.toThrow('the report file');
  });
});
