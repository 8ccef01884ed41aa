import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { UserError } from '../util/errors.js';
import { FileTree, type TreeFile } from './file-tree.js';
import { globToRegExp, matchesWithChildren } from './glob.js';
import { findLockFor } from './version-lock.js';
import { isYamlMap, locOf, parseYamlMap, type Loc, type YamlValue } from './yaml-values.js';

const PALLET_REQS = 'requirements/pallets';
const IMPORTS_EXT = '.imports.yml';

/** Target (`/x/y`) -> source path in the required pallet (`x/y`). */
type Mappings = Map<string, string>;

interface Modifier {
  type: string;
  source: string;
  target: string;
  onlyMatchingAny: string[];
  loc: Loc;
}

/** Loads a required pallet (already merged with its own imports) by its path. */
export type RequiredPalletLoader = (palletPath: string, from: Loc) => Promise<FileTree>;

/**
 * Builds the file tree of a layered pallet: files imported from required pallets by every
 * enabled `requirements/pallets/**\/*.imports.yml` group, overridden path by path by the
 * pallet's own files.
 */
export async function mergeImports(own: FileTree, loadRequired: RequiredPalletLoader): Promise<FileTree> {
  const groups = own.listUnder(PALLET_REQS).filter((p) => p.endsWith(IMPORTS_EXT));
  if (groups.length === 0) return own;

  // Per required pallet: the union of its groups' mappings, and which group set each target.
  const perPallet = new Map<string, { tree: FileTree; union: Mappings; origin: Map<string, string> }>();
  for (const rel of groups) {
    const file = own.display(rel);
    const group = parseYamlMap(await own.read(rel), file);
    if (group.disabled === true) continue;
    const name = rel.slice(PALLET_REQS.length + 1, -IMPORTS_EXT.length);
    const lock = findLockFor(own, PALLET_REQS, name);
    if (!lock) {
      throw new UserError(
        `import group ${name} names no required pallet: add requirements/pallets/<pallet path>/forklift-version-lock.yml for the pallet it imports from`,
        { file, line: 1 },
      );
    }
    let entry = perPallet.get(lock.prefix);
    if (!entry) {
      entry = {
        tree: await loadRequired(lock.prefix, { file, line: 1 }),
        union: new Map(),
        origin: new Map(),
      };
      perPallet.set(lock.prefix, entry);
    }
    const mappings = await evaluate(
      readModifiers(group.modifiers, file, locOf(group, 'modifiers')),
      entry.tree,
      [],
    );
    for (const [target, source] of mappings) {
      const previous = entry.union.get(target);
      if (previous !== undefined && previous !== source) {
        throw new UserError(
          `import group ${name} maps ${source} to ${target}, but group ${entry.origin.get(target)} maps ${previous} there; remove one of the two mappings`,
          { file, line: 1 },
        );
      }
      entry.union.set(target, source);
      entry.origin.set(target, name);
    }
    for (const target of mappings.keys()) checkTarget(target, { file, line: 1 });
  }

  const files = new Map<string, TreeFile>();
  const fromPallet = new Map<string, string>();
  for (const [palletPath, { tree, union }] of perPallet) {
    for (const [target, source] of union) {
      const rel = target.slice(1);
      const src = tree.get(source);
      if (!src) continue;
      const existing = files.get(rel);
      if (existing && !(await sameContent(existing, src))) {
        throw new UserError(
          `${target} is imported from both ${fromPallet.get(rel)} and ${palletPath} with different contents; import it from only one of them`,
          { file: own.display(groups[0] as string) },
        );
      }
      files.set(rel, src);
      fromPallet.set(rel, palletPath);
    }
  }
  // The pallet's own files win over imported ones; folders become unions of both.
  for (const [rel, file] of own.files) files.set(rel, file);
  return new FileTree(own.label, files);
}

function checkTarget(target: string, loc: Loc): void {
  if (target === `/${PALLET_REQS}` || target.startsWith(`/${PALLET_REQS}/`)) {
    throw new UserError(
      `an import may not write ${target}, which is under /${PALLET_REQS}; change the modifier's target`,
      loc,
    );
  }
  if (posix.dirname(target) === '/') {
    throw new UserError(
      `an import may not write the root-level file ${target}; change the modifier's target or source`,
      loc,
    );
  }
}

function readModifiers(value: YamlValue | undefined, file: string, loc: Loc | undefined): Modifier[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw new UserError('modifiers must be a list; fix this import group', loc ?? { file });
  return value.map((m) => {
    if (!isYamlMap(m))
      throw new UserError('each modifier must be a mapping; fix this import group', loc ?? { file });
    const str = (key: string): string => {
      const v = m[key];
      if (v === undefined || v === null) return '';
      if (typeof v !== 'string')
        throw new UserError(`modifier ${key} must be a string; fix it`, locOf(m, key) ?? { file });
      return v;
    };
    const target = str('target') || '/';
    const only = m['only-matching-any'];
    const onlyMatchingAny = Array.isArray(only) && only.length > 0 ? only.map((x) => String(x ?? '')) : [''];
    return {
      type: str('type') || 'add',
      target,
      source: str('source') || target,
      onlyMatchingAny,
      loc: locOf(m, 'type') ?? locOf(m, 'source') ?? locOf(m, 'target') ?? loc ?? { file },
    };
  });
}

async function evaluate(modifiers: Modifier[], tree: FileTree, featureStack: string[]): Promise<Mappings> {
  const mappings: Mappings = new Map();
  for (const modifier of modifiers) {
    switch (modifier.type) {
      case 'add':
        applyAdd(modifier, tree, mappings);
        break;
      case 'remove':
        applyRemove(modifier, mappings);
        break;
      case 'add-feature':
      case 'remove-feature': {
        const feature = await evaluateFeature(modifier, tree, featureStack);
        if (modifier.type === 'add-feature') for (const [t, s] of feature) mappings.set(t, s);
        else for (const t of feature.keys()) mappings.delete(t);
        break;
      }
      default:
        throw new UserError(
          `unknown modifier type ${modifier.type}; use add, remove, add-feature or remove-feature`,
          modifier.loc,
        );
    }
  }
  return mappings;
}

function applyAdd(modifier: Modifier, tree: FileTree, mappings: Mappings): void {
  const sourceRoot = posix.join('/', modifier.source);
  for (const matcher of modifier.onlyMatchingAny) {
    const pattern = (matcher === '' ? modifier.source : posix.join(modifier.source, matcher))
      .replace(/^\/+/, '')
      .replace(/\/+$/, '');
    const re = pattern === '' ? undefined : globToRegExp(pattern);
    for (const rel of tree.files.keys()) {
      if (re && !matchesWithChildren(re, rel)) continue;
      const abs = `/${rel}`;
      const below = abs.startsWith(sourceRoot) ? abs.slice(sourceRoot === '/' ? 0 : sourceRoot.length) : abs;
      mappings.set(posix.join('/', modifier.target, below), rel);
    }
  }
}

function applyRemove(modifier: Modifier, mappings: Mappings): void {
  for (const matcher of modifier.onlyMatchingAny) {
    const pattern = posix.join(modifier.target, matcher === '' ? '**' : posix.join(matcher, '**'));
    const re = globToRegExp(pattern);
    for (const target of [...mappings.keys()]) if (matchesWithChildren(re, target)) mappings.delete(target);
  }
}

async function evaluateFeature(modifier: Modifier, tree: FileTree, stack: string[]): Promise<Mappings> {
  const name = modifier.source.replace(/^\/+/, '');
  const rel = `features/${name}.feature.yml`;
  if (!tree.has(rel)) {
    throw new UserError(
      `${tree.label} has no feature ${name} (no ${rel}); fix the modifier's source`,
      modifier.loc,
    );
  }
  if (stack.includes(name)) {
    throw new UserError(
      `features include each other: ${[...stack, name].join(' -> ')}; remove the cycle`,
      modifier.loc,
    );
  }
  const file = tree.display(rel);
  const feature = parseYamlMap(await tree.read(rel), file);
  return evaluate(readModifiers(feature.modifiers, file, locOf(feature, 'modifiers')), tree, [
    ...stack,
    name,
  ]);
}

async function sameContent(a: TreeFile, b: TreeFile): Promise<boolean> {
  if (a.abs === b.abs) return true;
  const [x, y] = await Promise.all([readFile(a.abs), readFile(b.abs)]);
  return x.equals(y);
}
