import { join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { isDirectory } from './file-tree.js';
import { git, stderrOf } from './git-fetch.js';
import { requirementFolder, type FolderOptions } from './requirement-folders.js';
import {
  checkPseudoVersion,
  forkliftVersionOf,
  lookUpQuery,
  updateMirror,
  type QueryMatch,
} from './version-query.js';

/** Which pallet a listing read. */
export interface PalletIdentity {
  /** `pallet.path` of forklift-pallet.yml for a folder; the path asked for a remote pallet. */
  path: string;
  /** The version asked for (`v2025.0.0`, `main`, a commit); absent for a folder. */
  version?: string;
  /** The exact commit read; absent for a folder. */
  commit?: string;
  /** The local folder read. */
  dir: string;
}

/** `path@version (commit)` for a remote pallet, the folder otherwise: how messages name a pallet. */
export function describePallet(pallet: PalletIdentity): string {
  return pallet.commit ? `${pallet.path}@${pallet.version ?? ''} (${pallet.commit})` : pallet.dir;
}

// Go module path rules, as Forklift's pallet paths follow them: a host with a dot, then elements.
const REMOTE = /^([a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?(?:\/[A-Za-z0-9._~-]+)+)@([^@\s]+)$/;
const FULL_COMMIT = /^[0-9a-f]{40}$/;

/**
 * Finds the folder of the pallet a user named: an existing folder wins; otherwise
 * `host/path@version` is a remote pallet, fetched with git into the requirements cache at the
 * exact commit its version names (resolved as `forklift plt switch` resolves it).
 */
export async function resolvePallet(
  spec: string,
  folders: FolderOptions,
  warn: (message: string) => void,
): Promise<PalletIdentity> {
  const dir = resolve(spec);
  if (await isDirectory(dir)) return { path: '', dir };
  const remote = REMOTE.exec(spec);
  if (!remote) {
    throw new UserError(
      `pallet ${JSON.stringify(spec)} is neither an existing folder nor a remote pallet PATH@VERSION ` +
        '(e.g. github.com/PlanktoScope/pallet-standard@v2025.0.0)',
      { code: 'invalid-input', option: 'pallet' },
    );
  }
  const [, path, version] = remote as unknown as [string, string, string];
  if (FULL_COMMIT.test(version)) {
    // A full commit needs no lookup: our cache has it, or git fetches exactly that commit.
    const folder = await requirementFolder('pallets', { path, commit: version, version }, folders);
    return { path, version, commit: version, dir: folder };
  }
  const mirror = join(folders.cacheDir, 'mirrors', `${path}.git`);
  const match = await queryMirror(`https://${path}`, mirror, path, version, warn);
  const versionName = await forkliftVersionOf(mirror, match.commit);
  if (match.kind === 'pseudo-version') checkPseudoVersion(version, versionName, path);
  const folder = await requirementFolder(
    'pallets',
    { path, commit: match.commit, version: versionName },
    folders,
    `file://${mirror}`,
  );
  return { path, version, commit: match.commit, dir: folder };
}

/**
 * Resolves a version in our mirror of the pallet's repository. Tags, commits and
 * pseudo-versions already there are answered without asking the server; a branch is fetched
 * again since it moves (falling back, with a warning, to where it was when the server cannot be
 * reached, as Forklift does).
 */
async function queryMirror(
  url: string,
  mirror: string,
  path: string,
  version: string,
  warn: (message: string) => void,
): Promise<QueryMatch> {
  let present = await isDirectory(mirror);
  let fetched = false;
  const update = async (): Promise<void> => {
    try {
      await updateMirror(url, mirror, present);
    } catch (err) {
      throw new UserError(
        `could not fetch ${url} to resolve ${path}@${version}: ${stderrOf(err)}; check the path, your network and git credentials (url.<base>.insteadOf can point it elsewhere)`,
        { code: 'pallet', host: path.split('/')[0] },
      );
    }
    present = true;
    fetched = true;
  };
  if (!present) await update();
  let match = await lookUpQuery(mirror, version);
  if (!fetched && match?.kind === 'branch') {
    const before = match;
    try {
      await update();
      match = await lookUpQuery(mirror, version);
    } catch (err) {
      warn(`${(err as Error).message}; using branch ${version} as last fetched (commit ${before.commit})`);
    }
  } else if (!fetched && !match) {
    await update();
    match = await lookUpQuery(mirror, version);
  }
  if (match) return match;
  const tags = (await git(['tag', '--sort=-creatordate'], mirror)).split('\n').filter(Boolean).slice(0, 5);
  throw new UserError(
    `${path} has no tag, branch or commit ${version}; name one that exists` +
      (tags.length ? ` (its newest tags: ${tags.join(', ')})` : ''),
    { code: 'pallet' },
  );
}
