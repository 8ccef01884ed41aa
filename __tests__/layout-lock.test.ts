import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
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
    const { dir } = fresh();
    const first = await LayoutLock.acquire(dir);
    const { lines, logger } = recorder();
    const started = Date.now();
    const err = await LayoutLock.acquire(dir, { timeoutMs: 400, pollMs: 20, logger }).catch(
      (e: unknown) => e,
    );
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('locked');
    expect((err as UserError).message).toBe(
      `the layout ${dir} is still in use by pid ${process.pid} after waiting 0.4 s`,
    );
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(waited).toBeLessThan(2000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^waiting for pid ${process.pid}, which is using the layout ${dir} since `),
    );
    await first.release();
  });

  test('a waiting acquire gets the lock as soon as the holder releases it', async () => {
    const { dir } = fresh();
    const first = await LayoutLock.acquire(dir);
    const second = LayoutLock.acquire(dir, { timeoutMs: 10_000, pollMs: 20 });
    await new Promise((r) => setTimeout(r, 100));
    const released = Date.now();
    await first.release();
    const lock = await second;
    expect(Date.now() - released).toBeLessThan(1000);
    await lock.release();
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
    const lock = await LayoutLock.acquire(dir);
    const err = (await LayoutLock.acquire(join(parent, 'alias'), { timeoutMs: 0 }).catch(
      (e) => e,
    )) as UserError;
    expect(err.code).toBe('locked');
    await lock.release();
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
