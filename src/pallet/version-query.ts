import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from '../util/errors.js';
import { git } from './git-fetch.js';
import { forkliftVersionName } from './version-lock.js';
import { compareSemVer, parseSemVer, type SemVer } from './versions.js';

/** What a version query named in a repository. */
export interface QueryMatch {
  commit: string;
  /** Branches move, so a branch is looked up again upstream; the rest never change. */
  kind: 'tag' | 'branch' | 'commit' | 'pseudo-version';
}

const FETCH_REFS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

/**
 * Creates or updates a bare mirror of `url` (branches and tags), with the `git` command so the
 * user's git configuration applies. A new mirror appears atomically.
 */
export async function updateMirror(url: string, mirror: string, exists: boolean): Promise<void> {
  if (exists) {
    await git(['fetch', '-q', '--prune', '--force', url, ...FETCH_REFS], mirror);
    return;
  }
  await mkdir(dirname(mirror), { recursive: true });
  const tmp = `${mirror}.tmp-${process.pid}-${Date.now()}`;
  try {
    await git(['init', '-q', '--bare', tmp]);
    await git(['fetch', '-q', url, ...FETCH_REFS], tmp);
    await rename(tmp, mirror).catch(async (err: unknown) => {
      // Another run created it first; theirs is as good as ours.
      if (
        (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' &&
        (err as NodeJS.ErrnoException).code !== 'EEXIST'
      )
        throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function commitOf(mirror: string, revision: string): Promise<string | undefined> {
  try {
    return (await git(['rev-parse', '--verify', '-q', `${revision}^{commit}`], mirror)).trim() || undefined;
  } catch {
    return undefined;
  }
}

// A Go pseudo-version: vX.Y.Z-yyyymmddhhmmss-abcdef123456, vX.Y.Z-pre.0.yyyymmddhhmmss-abcdef123456
// or vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdef123456.
const PSEUDO = /^v\d+\.\d+\.\d+-(?:.*\.)?(?:0\.)?(\d{14})-([0-9a-f]{12})$/;

/**
 * The commit a version query names in a mirror, as Forklift resolves `path@version`: a tag or
 * branch of that name first, then an abbreviated or full commit hash; also a Go pseudo-version,
 * which must be the very version Forklift computes for its commit.
 */
export async function lookUpQuery(mirror: string, query: string): Promise<QueryMatch | undefined> {
  // Names only: `v1.0.0~1` or `main^` are revision expressions git would happily evaluate.
  if (/[~^:?*[\\\s]|\.\.|@\{/.test(query)) return undefined;
  const tag = await commitOf(mirror, `refs/tags/${query}`);
  if (tag) return { commit: tag, kind: 'tag' };
  const branch = await commitOf(mirror, `refs/heads/${query}`);
  if (branch) return { commit: branch, kind: 'branch' };
  const pseudo = PSEUDO.exec(query);
  if (pseudo) {
    const commit = await commitOf(mirror, pseudo[2] as string);
    return commit ? { commit, kind: 'pseudo-version' } : undefined;
  }
  if (/^[0-9a-f]{4,40}$/.test(query)) {
    const commit = await commitOf(mirror, query);
    // A name that merely looks like hex (a branch "cafe") resolved above; here only hashes count.
    if (commit?.startsWith(query)) return { commit, kind: 'commit' };
  }
  return undefined;
}

/**
 * Forklift's name for a commit's version: the highest semantic-version tag on it (`type: version`),
 * else a pseudo-version based on the highest such tag among its ancestors, as `forklift plt
 * add-repo` locks it.
 */
export async function forkliftVersionOf(mirror: string, commit: string): Promise<string> {
  const highest = async (args: string[]): Promise<string | undefined> => {
    const names = (await git(['tag', ...args, commit], mirror)).split('\n').filter((t) => t.startsWith('v'));
    let best: { name: string; v: SemVer } | undefined;
    for (const name of names) {
      const v = parseSemVer(name);
      if (v && (!best || compareSemVer(v, best.v) > 0)) best = { name, v };
    }
    return best?.name;
  };
  const where = { file: '', line: 0 };
  const onCommit = await highest(['--points-at']);
  if (onCommit) return forkliftVersionName('version', onCommit, '', commit, where);
  const timestamp = (
    await git(['show', '-s', '--format=%cd', '--date=format-local:%Y%m%d%H%M%S', commit], mirror, {
      TZ: 'UTC',
    })
  ).trim();
  return forkliftVersionName('pseudoversion', (await highest(['--merged'])) ?? '', timestamp, commit, where);
}

/** Refuses a pseudo-version whose timestamp or base does not match its commit. */
export function checkPseudoVersion(query: string, actual: string, palletPath: string): void {
  if (query === actual) return;
  throw new UserError(
    `${palletPath}@${query} names commit ${actual.slice(-12)}, whose version is ${actual}; use ${palletPath}@${actual}`,
    { code: 'pallet' },
  );
}
