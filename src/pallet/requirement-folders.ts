import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { isDirectory } from './file-tree.js';
import { fetchCommit } from './git-fetch.js';
import type { VersionLock } from './version-lock.js';

export type RequirementKind = 'repositories' | 'pallets';

export interface FolderOptions {
  repoOverrides: Record<string, string>;
  palletOverrides: Record<string, string>;
  cacheDir: string;
  forkliftCacheDir: string;
}

export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg !== '' ? xdg : join(homedir(), '.cache'), 'cache-images');
}

export function defaultForkliftCacheDir(): string {
  return join(homedir(), '.cache', 'forklift');
}

/**
 * The local folder holding a required repository or pallet at its locked commit, first found of:
 * the user's override, Forklift's own cache, our cache, a fresh git checkout into our cache.
 */
export async function requirementFolder(
  kind: RequirementKind,
  lock: Omit<VersionLock, 'file'> & { file?: string },
  options: FolderOptions,
  /** Where to fetch from when nothing local has it; default `https://<path>`. */
  url = `https://${lock.path}`,
): Promise<string> {
  const overrides = kind === 'repositories' ? options.repoOverrides : options.palletOverrides;
  const override = overrides[lock.path];
  if (override !== undefined) {
    const dir = resolve(override);
    if (!(await isDirectory(dir))) {
      throw new UserError(
        `the folder ${dir} given for ${lock.path} does not exist; fix the ${lock.path}=DIR option`,
      );
    }
    return dir;
  }
  const forklift = join(options.forkliftCacheDir, kind, `${lock.path}@${lock.version}`);
  if (await isDirectory(forklift)) return forklift;
  const ours = join(options.cacheDir, kind, `${lock.path}@${lock.commit}`);
  if (await isDirectory(ours)) return ours;
  await fetchCommit(url, lock.commit, ours, lock.file);
  return ours;
}
