import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TreeEntry } from './file-layers.js';

/**
 * The files below `root` as `mergeLayers` describes them (type, permission bits with setuid,
 * owner, content), skipping paths for which `skip` is true.
 */
export function readTree(
  root: string,
  skip: (path: string) => boolean = () => false,
): Map<string, TreeEntry> {
  const tree = new Map<string, TreeEntry>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (skip(path)) continue;
      const st = lstatSync(join(root, path));
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        tree.set(path, { type: 'Directory', ...base });
        walk(path);
      } else {
        tree.set(path, { type: 'File', ...base, content: readFileSync(join(root, path), 'utf8') });
      }
    }
  };
  walk('');
  return tree;
}

/** What `docker create` adds to every container's file system (not part of the image). */
export function dockerAddition(path: string): boolean {
  return (
    ['.dockerenv', 'dev', 'proc', 'sys', 'etc/hostname', 'etc/hosts', 'etc/mtab', 'etc/resolv.conf'].includes(
      path,
    ) || path.startsWith('dev/')
  );
}

/** A tree as sorted pairs, for a readable comparison. */
export function treeEntries(tree: Map<string, TreeEntry>): [string, TreeEntry][] {
  return [...tree.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
