import { UserError } from '../util/errors.js';
import type { FileTree } from './file-tree.js';
import { formatSemVer, parseSemVer } from './versions.js';
import { locOf, parseYamlMap } from './yaml-values.js';

/** A `forklift-version-lock.yml`: which commit of a required repository or pallet to use. */
export interface VersionLock {
  /** The requirement's path, e.g. `github.com/PlanktoScope/device-pkgs`. */
  path: string;
  commit: string;
  /** Forklift's name for the version, used in its cache folder names. */
  version: string;
  /** Display path of the lock file. */
  file: string;
}

export const LOCK_FILE = 'forklift-version-lock.yml';

export async function readVersionLock(tree: FileTree, rel: string, path: string): Promise<VersionLock> {
  const file = tree.display(rel);
  const lock = parseYamlMap(await tree.read(rel), file);
  const commit = lock.commit;
  if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/.test(commit)) {
    throw new UserError(
      'the lock needs the full 40-character commit hash; run `forklift plt add-repo` again or fix commit:',
      {
        file,
        line: locOf(lock, 'commit')?.line ?? 1,
      },
    );
  }
  const tag = typeof lock.tag === 'string' ? lock.tag : '';
  const timestamp = lock.timestamp === undefined || lock.timestamp === null ? '' : String(lock.timestamp);
  const where = { file, line: locOf(lock, 'type')?.line ?? 1 };
  return { path, commit, version: forkliftVersionName(lock.type, tag, timestamp, commit, where), file };
}

/** Forklift's version string (`v1.2.3`, or a Go pseudo-version) for a lock. */
export function forkliftVersionName(
  type: unknown,
  tag: string,
  timestamp: string,
  commit: string,
  where: { file: string; line: number },
): string {
  const short = commit.slice(0, 12);
  const parsedTag = tag ? parseSemVer(tag) : undefined;
  if (tag && !parsedTag) throw new UserError(`tag ${tag} is not a semantic version; fix tag:`, where);
  if (type === 'version') {
    if (!parsedTag)
      throw new UserError('a lock of type version needs a tag; add tag: or use type: pseudoversion', where);
    return `v${formatSemVer(parsedTag)}`;
  }
  if (type === 'pseudoversion') {
    if (!timestamp) throw new UserError('a pseudoversion lock needs a timestamp; add timestamp:', where);
    if (!parsedTag) return `v0.0.0-${timestamp}-${short}`;
    if (parsedTag.pre.length) return `v${formatSemVer(parsedTag)}.0.${timestamp}-${short}`;
    return `v${parsedTag.major}.${parsedTag.minor}.${parsedTag.patch + 1}-0.${timestamp}-${short}`;
  }
  throw new UserError(`unknown lock type ${JSON.stringify(type)}; use version or pseudoversion`, where);
}

/**
 * The requirement that owns `path`: the deepest `<base>/<prefix>/forklift-version-lock.yml` for a
 * prefix of it. Returns the prefix and the rest of the path.
 */
export function findLockFor(
  tree: FileTree,
  base: string,
  path: string,
): { prefix: string; rest: string } | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  for (let n = parts.length; n > 0; n--) {
    const prefix = parts.slice(0, n).join('/');
    if (tree.has(`${base}/${prefix}/${LOCK_FILE}`)) return { prefix, rest: parts.slice(n).join('/') };
  }
  return undefined;
}
