import { resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { FileTree, isDirectory } from './file-tree.js';
import { mergeImports } from './imports.js';
import { requirementFolder, type FolderOptions } from './requirement-folders.js';
import { readVersionLock, LOCK_FILE } from './version-lock.js';
import { checkForkliftVersion } from './versions.js';
import { isYamlMap, locOf, parseYamlMap, type Loc } from './yaml-values.js';

export const PALLET_FILE = 'forklift-pallet.yml';

/** Shared by every pallet and repository read during one listing. */
export interface ReaderContext {
  folders: FolderOptions;
  warn: (message: string) => void;
  /** Merged required pallets by path, so diamonds are read once. */
  pallets: Map<string, Promise<FileTree>>;
}

/**
 * Reads a pallet folder and merges what it imports from required pallets (recursively).
 * `chain` lists the pallet paths being merged, to report import cycles.
 */
export async function loadPallet(
  dir: string,
  ctx: ReaderContext,
  where: { label: string; displayPrefix: string; chain: string[] },
): Promise<{ tree: FileTree; path: string }> {
  const root = resolve(dir);
  if (!(await isDirectory(root)))
    throw new UserError(`${root} is not a folder; pass the folder of a pallet checkout`);
  const own = await FileTree.fromDir(root, where.label, where.displayPrefix);
  if (!own.has(PALLET_FILE)) {
    throw new UserError(
      `${root} has no ${PALLET_FILE}, so it is not a Forklift pallet; pass the pallet's root folder`,
    );
  }
  const file = own.display(PALLET_FILE);
  const decl = parseYamlMap(await own.read(PALLET_FILE), file);
  checkForkliftVersion(decl['forklift-version'], locOf(decl, 'forklift-version') ?? { file, line: 1 });
  const palletPath = isYamlMap(decl.pallet) && typeof decl.pallet.path === 'string' ? decl.pallet.path : '';
  const chain = [...where.chain, palletPath || root];
  const tree = await mergeImports(own, (requiredPath, from) =>
    loadRequiredPallet(own, requiredPath, from, ctx, chain),
  );
  return { tree, path: palletPath };
}

async function loadRequiredPallet(
  own: FileTree,
  path: string,
  from: Loc,
  ctx: ReaderContext,
  chain: string[],
): Promise<FileTree> {
  if (chain.includes(path)) {
    throw new UserError(
      `pallets import each other: ${[...chain, path].join(' -> ')}; remove one of these requirements`,
      from,
    );
  }
  let pending = ctx.pallets.get(path);
  if (!pending) {
    pending = (async () => {
      const lock = await readVersionLock(own, `requirements/pallets/${path}/${LOCK_FILE}`, path);
      const dir = await requirementFolder('pallets', lock, ctx.folders);
      return (await loadPallet(dir, ctx, { label: `pallet ${path}`, displayPrefix: path, chain })).tree;
    })();
    ctx.pallets.set(path, pending);
  }
  return pending;
}
