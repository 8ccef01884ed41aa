import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayoutLock } from '../src/layout/layout-lock.js';
import { UserError } from '../src/util/errors.js';

const work = mkdtempSync(join(tmpdir(), 'layout-lock-'));
let n = 0;
/** A fresh layout folder and its lock file's path. */
function fresh() {
  const parent = join(work, `case-${n++}`);
  mkdirSync(parent);
  return { parent, dir: join(parent, 'layout'), lockFile: join(parent, '.layout.lock') };
}

function recorder() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(m), debug: () => undefined } };
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync('true').pid as number;
}

function writeLock(file: string, holder: Record<string, unknown>) {
  writeFileSync(
    file,
    JSON.stringify({
      host: hostname(),
      since: '2026-01-01T00:00:00.000Z',
      token: 'feedfacefeedface',
      ...holder,
    }),
  );
}

describe('LayoutLock', () => {
  test('is a file next to the layout naming pid and host; the layout folder gets nothing', async () => {
    const { dir, lockFile } = fresh();
    mkdirSync(dir);
    const lock = await LayoutLock.acquire(dir);
    const holder = JSON.parse(readFileSync(lockFile, 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, host: hostname() });
    expect(readdirSync(dir)).toEqual([]);
    await lock.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  test('a second acquire waits, says so once, and fails with code locked at its timeout', async () => {
    const { dir, lockFile } = fresh();
    // Held by a live process of this host: jest's parent.
    writeLock(lockFile, { pid: process.ppid });
    const { lines, logger } = recorder();
    const started = Date.now();
    const err = await LayoutLock.acquire(dir, { timeoutMs: 400, pollMs: 20, logger }).catch(
      (e: unknown) => e,
    );
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('locked');
    expect((err as UserError).message).toBe(
      `the layout ${dir} is still in use by pid ${process.ppid} after waiting 0.4 s`,
    );
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(waited).toBeLessThan(2000);
    expect(lines).toEqual([
      `waiting for pid ${process.ppid}, which is using the layout ${dir} since 2026-01-01T00:00:00.000Z`,
    ]);
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.ppid);
  });

  test('a waiting acquire gets the lock as soon as the holder releases it', async () => {
    const { dir, lockFile } = fresh();
    writeLock(lockFile, { pid: process.ppid });
    const second = LayoutLock.acquire(dir, { timeoutMs: 10_000, pollMs: 20 });
    await new Promise((r) => setTimeout(r, 100));
    const released = Date.now();
    rmSync(lockFile);
    const lock = await second;
    expect(Date.now() - released).toBeLessThan(1000);
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  test('a process that holds the lock gets it again at once; the file goes with the last release', async () => {
    const { dir, lockFile } = fresh();
    const outer = await LayoutLock.acquire(dir);
    const inner = await LayoutLock.acquire(dir, { timeoutMs: 0 });
    await inner.release();
    await inner.release();
    expect(existsSync(lockFile)).toBe(true);
    await outer.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  test('takes over a lock whose process is dead, at once and without waiting', async () => {
    const { dir, lockFile } = fresh();
    writeLock(lockFile, { pid: deadPid() });
    const { lines, logger } = recorder();
    const started = Date.now();
    const lock = await LayoutLock.acquire(dir, { timeoutMs: 0, logger });
    expect(Date.now() - started).toBeLessThan(500);
    expect(lines).toEqual([]);
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
    await lock.release();
    // The take-over leaves no marker behind.
    expect(readdirSync(join(dir, '..'))).toEqual([]);
  });

  test('takes over a lock whose pid now belongs to another process (pid reused) or is from before a reboot', async () => {
    const reused = fresh();
    writeLock(reused.lockFile, { pid: process.pid, start: '1' });
    await (await LayoutLock.acquire(reused.dir, { timeoutMs: 0 })).release();
    const rebooted = fresh();
    writeLock(rebooted.lockFile, { pid: process.pid, boot: 'another-boot' });
    await (await LayoutLock.acquire(rebooted.dir, { timeoutMs: 0 })).release();
  });

  test('takes over even when a process that was taking it over died doing so', async () => {
    const { dir, lockFile, parent } = fresh();
    writeLock(lockFile, { pid: deadPid() });
    writeLock(`${lockFile}.feedfacefeedface.break-0`, { pid: deadPid(), token: 'dead' });
    const lock = await LayoutLock.acquire(dir, { timeoutMs: 0 });
    expect(readdirSync(parent)).toEqual(['.layout.lock']);
    await lock.release();
  });

  test('leaves a stale lock to a live process that is taking it over, and times out if that never ends', async () => {
    const { dir, lockFile } = fresh();
    writeLock(lockFile, { pid: deadPid() });
    const marker = `${lockFile}.feedfacefeedface.break-0`;
    writeLock(marker, { pid: process.ppid, token: 'breaker' });
    const err = (await LayoutLock.acquire(dir, { timeoutMs: 200 }).catch((e) => e)) as UserError;
    expect(err.code).toBe('locked');
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).token).toBe('feedfacefeedface');
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
    await (await LayoutLock.acquire(dir, { timeoutMs: 0 })).release();
  });

  test('two acquires in one process at once share the lock instead of waiting for each other', async () => {
    const { dir, lockFile } = fresh();
    writeLock(lockFile, { pid: deadPid() });
    const [a, b] = await Promise.all([
      LayoutLock.acquire(dir, { timeoutMs: 1000 }),
      LayoutLock.acquire(dir, { timeoutMs: 1000 }),
    ]);
    await a.release();
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
    await b.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  test('never takes over a lock from another host, and says which file to delete', async () => {
    const { dir, lockFile } = fresh();
    writeLock(lockFile, { pid: deadPid(), host: 'runner-7' });
    const { lines, logger } = recorder();
    const err = (await LayoutLock.acquire(dir, { timeoutMs: 100, pollMs: 20, logger }).catch(
      (e) => e,
    )) as UserError;
    expect(err.code).toBe('locked');
    expect(err.message).toContain('in use by pid');
    expect(err.message).toContain('on host runner-7');
    expect(err.message).toContain(
      `a lock from another host is never taken over: if no run is using the layout, delete ${lockFile}`,
    );
    expect(lines).toHaveLength(1);
    expect(existsSync(lockFile)).toBe(true);
  });

  test('never takes over a lock file it cannot read', async () => {
    const { dir, lockFile } = fresh();
    writeFileSync(lockFile, 'not json');
    const err = (await LayoutLock.acquire(dir, { timeoutMs: 50 }).catch((e) => e)) as UserError;
    expect(err.code).toBe('locked');
    expect(err.message).toContain(
      `its lock file cannot be read: if no run is using the layout, delete ${lockFile}`,
    );
    expect(readFileSync(lockFile, 'utf8')).toBe('not json');
  });

  test('every path to one layout (a symlink) shares one lock', async () => {
    const { dir, parent } = fresh();
    mkdirSync(dir);
    symlinkSync(dir, join(parent, 'alias'));
    expect(await LayoutLock.lockPath(join(parent, 'alias'))).toBe(await LayoutLock.lockPath(dir));
    writeLock(join(parent, '.layout.lock'), { pid: process.ppid });
    const err = (await LayoutLock.acquire(join(parent, 'alias'), { timeoutMs: 0 }).catch(
      (e) => e,
    )) as UserError;
    expect(err.code).toBe('locked');
  });

  test('release removes only its own lock, once', async () => {
    const { dir, lockFile } = fresh();
    const lock = await LayoutLock.acquire(dir);
    writeLock(lockFile, { pid: 1, token: 'someone-else' });
    await lock.release();
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).token).toBe('someone-else');
    await lock.release();
    expect(existsSync(lockFile)).toBe(true);
  });
});
