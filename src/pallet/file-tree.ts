import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { UserError } from '../util/errors.js';

/** One file of a tree: where its bytes are, and how to name it to the user. */
export interface TreeFile {
  abs: string;
  display: string;
  /** Set when the file may not be read (a symlink pointing outside its tree). */
  problem?: string;
}

/**
 * The files of a pallet or repository by their slash-separated path from its root (no leading
 * slash). Layered pallets are trees whose files come from several folders, so every reader goes
 * through this map rather than the file system.
 */
export class FileTree {
  constructor(
    /** What this tree is, for messages: `the pallet`, `repository github.com/x/y`. */
    readonly label: string,
    readonly files: Map<string, TreeFile>,
  ) {}

  static async fromDir(root: string, label: string, displayPrefix: string): Promise<FileTree> {
    const files = new Map<string, TreeFile>();
    const realRoot = await realpath(root);
    const display = (rel: string): string => (displayPrefix ? `${displayPrefix}/${rel}` : rel);
    const seen = new Set<string>([realRoot]);
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      for (const entry of entries) {
        if (entry.name === '.git') continue;
        const abs = join(dir, entry.name);
        const childRel = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          await walk(abs, childRel);
        } else if (entry.isSymbolicLink()) {
          let target: string;
          try {
            target = await realpath(abs);
          } catch {
            continue; // a dangling link is not a file
          }
          if (target !== realRoot && !target.startsWith(realRoot + sep)) {
            files.set(childRel, {
              abs,
              display: display(childRel),
              problem: `is a symlink pointing outside ${label} (to ${target}); replace it with the file itself`,
            });
            continue;
          }
          const info = await stat(target);
          if (info.isDirectory()) {
            if (seen.has(target)) continue; // a link loop
            seen.add(target);
            await walk(abs, childRel);
          } else {
            files.set(childRel, { abs, display: display(childRel) });
          }
        } else if (entry.isFile()) {
          files.set(childRel, { abs, display: display(childRel) });
        }
      }
    };
    await walk(root, '');
    return new FileTree(label, files);
  }

  has(rel: string): boolean {
    return this.files.has(rel);
  }

  get(rel: string): TreeFile | undefined {
    return this.files.get(rel);
  }

  display(rel: string): string {
    return this.files.get(rel)?.display ?? rel;
  }

  /** True when some file lies below `rel` (a folder, possibly assembled from several sources). */
  isDir(rel: string): boolean {
    const prefix = rel === '' ? '' : `${rel}/`;
    for (const key of this.files.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  /** Paths of all files below the folder `rel`, sorted. */
  listUnder(rel: string): string[] {
    const prefix = rel === '' ? '' : `${rel}/`;
    return [...this.files.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async read(rel: string): Promise<string> {
    const file = this.files.get(rel);
    if (!file) throw new UserError(`${rel} does not exist in ${this.label}`);
    if (file.problem) throw new UserError(file.problem, { file: file.display });
    return readFile(file.abs, 'utf8');
  }
}

/**
 * Joins a relative path onto a tree folder, refusing results outside the tree (`..` too far).
 * Absolute-looking paths (`/x`) count from the tree root, as Forklift's package paths do.
 */
export function joinInside(
  base: string,
  path: string,
  tree: FileTree,
  where: { file?: string; line?: number },
): string {
  const joined = path.startsWith('/')
    ? posix.normalize(path.slice(1) || '.')
    : posix.normalize(posix.join(base || '.', path));
  const clean = joined === '.' ? '' : joined.replace(/\/$/, '');
  if (clean === '..' || clean.startsWith('../')) {
    throw new UserError(`path ${JSON.stringify(path)} escapes ${tree.label}; keep paths inside it`, where);
  }
  return clean;
}

/** Whether a folder exists on disk (used for caches and overrides). */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory() || (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export function relativeDisplay(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}
