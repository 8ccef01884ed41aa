import { UserError } from '../util/errors.js';
import { FileTree, joinInside } from './file-tree.js';
import { loadPallet, PALLET_FILE, type ReaderContext } from './load-pallet.js';
import { requirementFolder } from './requirement-folders.js';
import { findLockFor, LOCK_FILE, readVersionLock } from './version-lock.js';
import { parseYamlMap, type Loc, type YamlMap } from './yaml-values.js';

export const PACKAGE_FILE = 'forklift-package.yml';
const REPO_REQS = 'requirements/repositories';

/** A package found for a deployment: its tree, its folder in that tree, and its manifest. */
export interface ResolvedPackage {
  tree: FileTree;
  dir: string;
  manifest: YamlMap;
  /** Display path of forklift-package.yml. */
  manifestFile: string;
}

/** Repository trees by path, so each repository is found (and fetched) once per listing. */
export type RepoTrees = Map<string, Promise<FileTree>>;

/**
 * Finds the package a deployment names: `/x/y` inside the pallet, anything else inside the
 * required repository whose lock is the deepest prefix of the path.
 */
export async function resolvePackage(
  pallet: FileTree,
  packagePath: string,
  from: Loc,
  ctx: ReaderContext,
  repos: RepoTrees,
): Promise<ResolvedPackage> {
  let tree: FileTree;
  let dir: string;
  if (packagePath.startsWith('/')) {
    tree = pallet;
    dir = joinInside('', packagePath, pallet, from);
  } else {
    const found = findLockFor(pallet, REPO_REQS, packagePath);
    if (!found) {
      throw new UserError(
        `no required repository provides package ${packagePath}: add ${REPO_REQS}/<repository path>/${LOCK_FILE} (forklift plt add-repo), or start a package inside the pallet with /`,
        from,
      );
    }
    tree = await repoTree(pallet, found.prefix, ctx, repos);
    dir = joinInside('', found.rest, tree, from);
  }
  const manifestRel = dir === '' ? PACKAGE_FILE : `${dir}/${PACKAGE_FILE}`;
  if (!tree.has(manifestRel)) {
    const what = tree.isDir(dir)
      ? `folder ${tree.display(dir) || '/'} has no ${PACKAGE_FILE}`
      : `folder ${dir || '/'} does not exist in ${tree.label}`;
    throw new UserError(`package ${packagePath}: ${what}; fix the package path or add the package`, from);
  }
  const manifestFile = tree.display(manifestRel);
  return { tree, dir, manifest: parseYamlMap(await tree.read(manifestRel), manifestFile), manifestFile };
}

function repoTree(pallet: FileTree, path: string, ctx: ReaderContext, repos: RepoTrees): Promise<FileTree> {
  let pending = repos.get(path);
  if (!pending) {
    pending = (async () => {
      const lock = await readVersionLock(pallet, `${REPO_REQS}/${path}/${LOCK_FILE}`, path);
      const dir = await requirementFolder('repositories', lock, ctx.folders);
      const label = `repository ${path}`;
      const plain = await FileTree.fromDir(dir, label, path);
      // Newer Forklift publishes packages from pallets; such a pallet is read with its imports.
      if (!plain.has(PALLET_FILE)) return plain;
      return (await loadPallet(dir, ctx, { label, displayPrefix: path, chain: [] })).tree;
    })();
    repos.set(path, pending);
  }
  return pending;
}
