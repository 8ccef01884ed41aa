import { stat } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { canonicalPath } from '../util/fs.js';

/** An output the run will write, as the front end names it. */
export interface OutputPath {
  path: string;
  /** What it is, for the message: `archive file`, `archive folder`, `report file`. */
  what: string;
  /** The option holding it (CLI name without dashes), so the front end can say which to fix. */
  option?: string;
}

/**
 * Refuses, before anything is written, an output that is the layout or inside it: writing an
 * archive over `index.json` or a blob would destroy the layout the run just filled. Paths are
 * compared after resolving symlinks, and by file identity (device and inode) of every existing
 * folder on the way, so another spelling of the layout (a symlink, a bind mount, other case on
 * a case-insensitive file system) is caught too. Throws UserError code 'invalid-input'.
 */
export async function refuseInsideLayout(layoutDir: string, paths: OutputPath[]): Promise<void> {
  const layout = await canonicalPath(layoutDir);
  const layoutId = await fileId(layout);
  for (const output of paths) {
    const path = await canonicalPath(output.path);
    if (path === layout || path.startsWith(layout + sep) || (await hasAncestor(path, layoutId))) {
      throw new UserError(
        `the ${output.what} ${output.path} is inside the layout ${layoutDir}: writing it would damage the layout; choose a path outside it`,
        { code: 'invalid-input', option: output.option },
      );
    }
  }
}

async function fileId(path: string): Promise<string | undefined> {
  const s = await stat(path).catch(() => undefined);
  return s ? `${s.dev}:${s.ino}` : undefined;
}

/** True when `path` or one of its existing ancestors is the folder with identity `id`. */
async function hasAncestor(path: string, id: string | undefined): Promise<boolean> {
  if (!id) return false;
  for (let at = path; ; at = dirname(at)) {
    if ((await fileId(at)) === id) return true;
    if (dirname(at) === at) return false;
  }
}
