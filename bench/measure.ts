/** Timing helpers shared by the benchmarks. */
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const MB = 1024 * 1024;

export interface Measure {
  seconds: number;
  rssKiB: number;
  /** User plus system CPU time: on a busy machine a steadier figure than wall time. */
  cpuSeconds?: number;
}

/** Runs a command under GNU time: wall seconds, CPU seconds and the peak RSS of the process tree's largest member. */
export function timed(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measure> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      '/usr/bin/time',
      ['-f', '%e %M %U %S', command, ...args],
      { maxBuffer: 256 * MB, env: { ...process.env, ...env } },
      (err, _stdout, stderr) => {
        if (err) {
          reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.slice(-2000)}`));
          return;
        }
        const [seconds, rss, user, system] = stderr.trim().split('\n').at(-1)?.split(' ') ?? [];
        resolvePromise({
          seconds: Number(seconds),
          rssKiB: Number(rss),
          cpuSeconds: Number(user) + Number(system),
        });
      },
    );
  });
}

/**
 * Brings the machine to the same state before each timed run: `sync` (a run timed while earlier
 * runs' dirty pages are written back is slowed up to 6x), then every file below `warm` (the
 * registry's storage) read once, so each run finds the registry's blobs in the page cache. This
 * machine evicts idle files (DAMON reclaim), which made whichever run came first read from disk.
 */
export async function settle(warm?: string): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    execFile('sync', (err) => (err ? reject(err) : resolvePromise()));
  });
  if (!warm) return;
  await new Promise<void>((resolvePromise, reject) => {
    execFile('sh', ['-c', 'find "$1" -type f -exec cat {} + > /dev/null', 'warm', warm], (err) =>
      err ? reject(err) : resolvePromise(),
    );
  });
}

/** Calls `fn` on every item, at most `limit` at once (as GNU parallel -j does). */
export async function parallel<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Bytes of every file below `dir`. */
export const dirBytes = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce(
    (n, e) => n + (e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
