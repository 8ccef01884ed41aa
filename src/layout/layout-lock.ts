import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, constants, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../util/errors.js';
import {
  asFileSystemError,
  canonicalPath,
  createExclusive,
  isNotFound,
  makeFolder,
  onFile,
  processAlive,
  removeTemporaries,
} from '../util/fs.js';
import type { Logger } from '../util/log.js';
import { onTerminate } from '../util/terminate.js';

/** Who holds a lock: enough to tell, on this host, whether that process still runs. */
interface Holder {
  pid: number;
  host: string;
  /** Differs after a reboot: every lock from before it is stale. */
  boot?: string;
  /** The process's start time in clock ticks since boot: a reused pid has another. */
  start?: string;
  since: string;
  /** Unique per acquisition: who takes over a stale lock removes exactly that one. */
  token: string;
}

export interface LockOptions {
  /** How long to wait for another process (default 10 min); then UserError code 'locked'. */
  timeoutMs?: number;
  /** Says once that the run is waiting, and for whom. */
  logger?: Pick<Logger, 'info' | 'debug'>;
  /** How often the lock is looked at while waiting (default 200 ms). */
  pollMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/**
 * An exclusive lock on a layout, held by `pull` and `archive` for their whole run so that one
 * run never removes or rewrites what another is using:
 *
 *   const lock = await LayoutLock.acquire(layoutDir, { timeoutMs, logger });
 *   try { ... } finally { await lock.release(); }
 *
 * The lock is a file next to the layout (`.NAME.lock`), not in it: OCI readers see a plain
 * layout, and the Actions cache never saves or restores a lock. It names pid and host and is
 * created atomically (link). A lock whose process is gone (same host) is taken over; one from
 * another host cannot be checked and is never taken over: the error says which file to delete.
 * Until released, SIGINT/SIGTERM remove this process's temporaries and release the lock.
 */
export class LayoutLock {
  private released = false;

  private constructor(
    /** The lock file; undefined for a read-only layout, which no one can change. */
    readonly path: string | undefined,
    private readonly held?: Held,
  ) {}

  /** The lock file for a layout folder (symlinks resolved, so every path to it shares one). */
  static async lockPath(layoutDir: string): Promise<string> {
    const dir = await canonicalPath(layoutDir);
    return join(dirname(dir), `.${basename(dir)}.lock`);
  }

  /**
   * Waits for the lock and takes it. A process that already holds it gets it again at once
   * (`archive` inside a `pull` run); the file goes with the last release.
   */
  static async acquire(layoutDir: string, options: LockOptions = {}): Promise<LayoutLock> {
    const path = await onFile(layoutDir, () => LayoutLock.lockPath(layoutDir));
    const me = ownHolder();
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let announced = false;
    for (;;) {
      const mine = heldHere.get(path);
      if (mine) {
        mine.count++;
        return new LayoutLock(path, mine);
      }
      let created: boolean;
      try {
        await makeFolder(dirname(path));
        created = await createExclusive(path, JSON.stringify(me));
      } catch (err) {
        if (await readOnly(layoutDir, err)) {
          options.logger?.debug(`${layoutDir} is read-only: no run can change it, so it is not locked`);
          return new LayoutLock(undefined);
        }
        // The folder is what the user can fix (permissions, space), not our lock file in it.
        throw asFileSystemError(err, dirname(path));
      }
      if (created) return new LayoutLock(path, hold(path, me.token));
      const holder = await readHolder(path);
      if (holder === 'gone') continue;
      const stale = holder !== 'unreadable' && isStale(holder);
      if (stale && (await takeOver(path, holder))) continue;
      if (!stale && !announced) {
        options.logger?.info(waitingLine(layoutDir, path, holder));
        announced = true;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw lockedError(layoutDir, path, holder, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      // Another process is taking a stale lock over: it takes microseconds, so look again soon.
      await sleep(Math.min(stale ? 10 : (options.pollMs ?? 200), left));
    }
  }

  /** Releases this hold (once; later calls do nothing). Only ever removes this process's own lock. */
  async release(): Promise<void> {
    if (this.released || !this.held) return;
    this.released = true;
    await this.held.drop();
  }
}

/** A lock this process holds, with how many LayoutLock handles share it. */
interface Held {
  count: number;
  drop(): Promise<void>;
}

const heldHere = new Map<string, Held>();

function hold(path: string, token: string): Held {
  const remove = async () => {
    heldHere.delete(path);
    forget();
    const holder = await readHolder(path);
    if (typeof holder === 'object' && holder.token === token) await rm(path, { force: true });
  };
  const held: Held = {
    count: 1,
    drop: async () => {
      if (--held.count === 0) await remove();
    },
  };
  // On SIGINT/SIGTERM: no temporaries left behind, and the next run need not wait.
  const forget = onTerminate(async () => {
    await removeTemporaries();
    await remove();
  });
  heldHere.set(path, held);
  return held;
}

function ownHolder(): Holder {
  return {
    pid: process.pid,
    host: hostname(),
    boot: bootId(),
    start: startTicks(process.pid),
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
}

async function readHolder(path: string): Promise<Holder | 'gone' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return 'gone';
    return 'unreadable';
  }
  try {
    const h = JSON.parse(text) as Holder;
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string') return h;
  } catch {
    // Not ours, or damaged by hand: never taken over.
  }
  return 'unreadable';
}

/** True when the holder is a process of this host that no longer runs. */
function isStale(h: Holder): boolean {
  if (h.host !== hostname()) return false;
  const boot = bootId();
  if (h.boot && boot && h.boot !== boot) return true;
  if (!processAlive(h.pid)) return true;
  const start = startTicks(h.pid);
  return Boolean(h.start && start && h.start !== start);
}

/**
 * Removes a stale lock such that, of all processes trying at once, exactly one removes it and
 * none removes the fresh lock another has just made: the right to remove the lock with token T
 * is a marker `LOCK.T.break-N` created atomically; a marker whose maker died passes the right
 * to N+1. Markers are removed only after the stale lock, so a late-comer's marker finds another
 * token and removes nothing.
 */
async function takeOver(path: string, stale: Holder): Promise<boolean> {
  const me = JSON.stringify(ownHolder());
  /** Markers of dead breakers below ours: removed only once the stale lock is gone. */
  const dead: string[] = [];
  for (let n = 0; ; n++) {
    const marker = `${path}.${stale.token}.break-${n}`;
    if (await createExclusive(marker, me)) {
      try {
        const current = await readHolder(path);
        if (typeof current === 'object' && current.token === stale.token) await rm(path, { force: true });
      } finally {
        for (const m of [marker, ...dead.reverse()]) await rm(m, { force: true });
      }
      return true;
    }
    const breaker = await readHolder(marker);
    // Another process is taking it over (or just did): let it finish.
    if (breaker === 'gone' || breaker === 'unreadable' || !isStale(breaker)) return false;
    dead.push(marker);
  }
}

function describeHolder(h: Holder | 'unreadable'): string {
  if (h === 'unreadable') return 'an unknown process';
  return h.host === hostname() ? `pid ${h.pid}` : `pid ${h.pid} on host ${h.host}`;
}

/** What to do when the holder cannot be checked from here; empty when it can. */
function foreignAdvice(path: string, h: Holder | 'unreadable'): string {
  if (h !== 'unreadable' && h.host === hostname()) return '';
  const why =
    h === 'unreadable' ? 'its lock file cannot be read' : 'a lock from another host is never taken over';
  return ` (${why}: if no run is using the layout, delete ${path})`;
}

function waitingLine(layoutDir: string, path: string, h: Holder | 'unreadable'): string {
  const since = h === 'unreadable' ? '' : ` since ${h.since}`;
  return `waiting for ${describeHolder(h)}, which is using the layout ${layoutDir}${since}${foreignAdvice(path, h)}`;
}

function lockedError(
  layoutDir: string,
  path: string,
  h: Holder | 'unreadable',
  timeoutMs: number,
): UserError {
  return new UserError(
    `the layout ${layoutDir} is still in use by ${describeHolder(h)} after waiting ${formatWait(timeoutMs)}${foreignAdvice(path, h)}`,
    { code: 'locked' },
  );
}

function formatWait(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}

/** True when the lock could not be made because the layout itself is read-only (EROFS). */
async function readOnly(layoutDir: string, err: unknown): Promise<boolean> {
  if ((err as NodeJS.ErrnoException).code !== 'EROFS') return false;
  try {
    await access(layoutDir, constants.W_OK);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EROFS';
  }
}

function bootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim();
}

/** Field 22 of /proc/PID/stat (after the parenthesised command name, which may hold spaces). */
function startTicks(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
