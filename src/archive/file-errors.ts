import { UserError } from '../util/errors.js';

/** What each file-system failure means for the user, and what they can do about it. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on its file system (ENOSPC); free some space there or write it elsewhere',
  EDQUOT: 'the disk quota is exhausted (EDQUOT); free some space there or write it elsewhere',
  EROFS: 'its file system is read-only (EROFS); write it to a writable place',
  EACCES: 'permission denied (EACCES); write it to a folder you can write to',
  EPERM: 'operation not permitted (EPERM); write it to a folder you can write to',
  EISDIR: 'a directory is in the way (EISDIR); name a file, not a directory',
  ENOTDIR: 'a part of the path is a file, not a directory (ENOTDIR); check the path',
  EEXIST: 'a file is in the way of a directory (EEXIST); check the path',
  ENAMETOOLONG: 'the name is too long for its file system (ENAMETOOLONG); choose a shorter path',
  EMFILE: 'too many open files (EMFILE); raise the limit (ulimit -n)',
  EIO: 'an I/O error occurred (EIO); check the disk',
};

/**
 * A file-system failure while writing `path` as one line, `path: cannot write the archive: why;
 * what to do`, naming `path` (never the temporary name the bytes were going to); anything else
 * is returned unchanged.
 */
export function fileWriteError(err: unknown, path: string, what = 'archive'): unknown {
  if (err instanceof UserError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return err;
  const reason = REASONS[code] ?? `${code}`;
  return new UserError(`cannot write the ${what}: ${reason}`, {
    code: 'file-system',
    file: path,
    cause: err,
  });
}
