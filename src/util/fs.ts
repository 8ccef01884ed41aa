import { randomBytes } from 'node:crypto';
import { statfs } from 'node:fs';
import { link, mkdir, open, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UserError, type ErrorFacts } from './errors.js';
import { formatBytes } from './log.js';

/**
 * Temporaries this process made and has not yet renamed or removed, so a signal handler can
 * remove them (`removeTemporaries`) instead of leaving them for the next run to find.
 */
const liveTemporaries = new Set<string>();

/** A sibling temporary name: same directory, so the final rename is atomic. */
export function temporarySibling(path: string): string {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  liveTemporaries.add(tmp);
  return tmp;
}

/** The process id a temporarySibling name was made by, or undefined for other names. */
export function temporaryOwner(name: string): number | undefined {
  const m = /^\..+\.(\d+)-[a-f0-9]{8}\.tmp$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The file a temporarySibling stands for: error messages name it, never the temporary. */
export function temporaryTarget(path: string): string {
  const m = /^\.(.+)\.\d+-[a-f0-9]{8}\.tmp$/.exec(basename(path));
  return m?.[1] ? join(dirname(path), m[1]) : path;
}

/**
 * Removes the temporaries in `dir` whose process is gone (a run killed mid-write), optionally
 * only those standing for a file `only` accepts. Temporaries of live processes stay.
 */
export async function removeAbandonedTemporaries(
  dir: string,
  only?: (target: string) => boolean,
): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const owner = temporaryOwner(name);
    if (owner === undefined || processAlive(owner)) continue;
    if (only && !only(basename(temporaryTarget(name)))) continue;
    await rm(join(dir, name), { force: true, recursive: true });
  }
}

/** Removes every temporary this process still has (on a signal, before exiting). */
export async function removeTemporaries(): Promise<void> {
  const paths = [...liveTemporaries];
  liveTemporaries.clear();
  await Promise.all(paths.map((p) => rm(p, { force: true, recursive: true }).catch(() => undefined)));
}

/** Renames a temporary into place; from then on it is no longer this run's to remove. */
export async function commitTemporary(tmp: string, path: string): Promise<void> {
  await rename(tmp, path);
  liveTemporaries.delete(tmp);
}

/** Removes a temporary that will not be committed. */
export async function discardTemporary(tmp: string): Promise<void> {
  await rm(tmp, { force: true, recursive: true });
  liveTemporaries.delete(tmp);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes a whole file so that readers see either the old content or the new, never half. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporarySibling(path);
  try {
    await writeFile(tmp, data);
    await commitTemporary(tmp, path);
  } catch (err) {
    await discardTemporary(tmp);
    throw asFileSystemError(err, path);
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * What each file-system failure means and what the user can do about it. The path is the
 * error's `file`, which front ends print before the message (`PATH: no space left ...`).
 */
const FILE_SYSTEM_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on device: free some space there or use another folder',
  EDQUOT: 'disk quota exceeded: free some space there or use another folder',
  EROFS: 'read-only file system: use a writable folder',
  EACCES: 'permission denied: make it writable for this user or use another folder',
  EPERM: 'operation not permitted: make it writable for this user or use another folder',
  EISDIR: 'a folder where a file is expected: remove it or choose another path',
  ENOTDIR: 'part of this path is a file where a folder is expected: choose another path',
  EEXIST: 'exists and is not a folder: remove it or choose another path',
  EIO: 'input/output error: the disk or file system is failing',
  EMFILE: 'too many open files: raise the limit (ulimit -n) or lower the concurrency',
};

/** True for the errno failures `asFileSystemError` turns into one line for the user. */
export function isFileSystemError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code in FILE_SYSTEM_ERRORS;
}

/**
 * A file-system failure as the user's mistake or situation: one line naming `path` (the real
 * file, never the temporary the failure happened on) with what to do; code 'file-system'.
 * Anything else is returned unchanged.
 */
export function asFileSystemError(err: unknown, path: string, facts: ErrorFacts = {}): unknown {
  if (!isFileSystemError(err)) return err;
  const code = (err as NodeJS.ErrnoException).code as string;
  const real = temporaryTarget(path);
  return new UserError(FILE_SYSTEM_ERRORS[code] as string, {
    ...facts,
    file: real,
    code: 'file-system',
    cause: err,
  });
}

/** Runs a file operation on `path`, turning file-system failures into a UserError about `path`. */
export async function onFile<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw asFileSystemError(err, path);
  }
}

const statfsAsync = promisify(statfs);

/**
 * Checks, before any download starts, that `dir` is a folder this process can write (creating
 * it when missing) and, with `needBytes`, that its file system has that much room. Throws a
 * UserError (code 'file-system') naming `dir`, so a run fails at once instead of after the
 * download that fills the disk.
 */
export async function checkWritable(dir: string, options: { needBytes?: number } = {}): Promise<void> {
  await onFile(dir, () => makeFolder(dir));
  const probe = temporarySibling(join(dir, 'write-check'));
  try {
    await onFile(dir, async () => (await open(probe, 'wx')).close());
  } finally {
    await discardTemporary(probe);
  }
  if (options.needBytes !== undefined) await checkRoom(dir, options.needBytes);
}

/**
 * Checks that the file system holding `dir` has `needBytes` free, before anything is written;
 * else a UserError naming `file` (default `dir`). `parts` says what the bytes are for.
 */
export async function checkRoom(dir: string, needBytes: number, file = dir, parts = ''): Promise<void> {
  const fs = await statfsAsync(dir);
  const free = fs.bavail * fs.bsize;
  if (free < needBytes) {
    throw new UserError(
      `no space for ${formatBytes(needBytes)}${parts ? ` (${parts})` : ''}: its file system has ${formatBytes(free)} free; free some space there or use another folder`,
      { file, code: 'file-system' },
    );
  }
}

/**
 * Checks that a file can be written at `path`: its folder is writable and `path` is not a
 * folder. For outputs (archives, reports) before any download starts.
 */
export async function checkWritableFile(path: string): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
  } catch (err) {
    if (!isNotFound(err)) throw asFileSystemError(err, path);
  }
  await checkWritable(dirname(path));
}

/**
 * `path` with every symlink of its existing part resolved (and, where the file system ignores
 * case, that part spelled as on disk), the missing rest appended: one spelling per file.
 */
export async function canonicalPath(path: string): Promise<string> {
  const absolute = resolve(path);
  const missing: string[] = [];
  for (let at = absolute; ; at = dirname(at)) {
    try {
      return join(await realpath(at), ...missing);
    } catch (err) {
      if (!isNotFound(err) && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
      if (dirname(at) === at) return absolute;
      missing.unshift(basename(at));
    }
  }
}

/**
 * Creates `path` holding `content` only if it does not exist, so that no reader ever sees it
 * half-written: the content goes to a temporary that is hard-linked to `path` (link fails when
 * `path` exists, atomically, also on NFS). Returns false when `path` already exists.
 */
export async function createExclusive(path: string, content: string): Promise<boolean> {
  const tmp = temporarySibling(path);
  try {
    await writeFile(tmp, content);
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await discardTemporary(tmp);
  }
}

/**
 * `mkdir -p` that reports the real failure: Node's recursive mkdir says ENOENT on a read-only
 * file system. Missing folders are made one by one from the deepest existing one.
 */
export async function makeFolder(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    try {
      if ((await stat(at)).isDirectory()) break;
      throw Object.assign(new Error(`${at} is not a folder`), { code: 'EEXIST' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      missing.unshift(at);
      if (dirname(at) === at) break;
    }
  }
  for (const folder of missing) {
    await mkdir(folder).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}
