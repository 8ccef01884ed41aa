import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import type { TestLayer, TestPlatform } from './test-images.js';

/** One entry of a test layer's tar. Paths have no leading slash; directories end without one. */
export interface LayerEntry {
  path: string;
  type: 'File' | 'Directory';
  /** Permission bits, with setuid and friends (default 0o644 files, 0o755 directories). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** File content (default empty). */
  content?: string;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * A gzip layer holding exactly `entries`, for images whose file tree matters: whiteouts
 * (`.wh.NAME` deletes NAME below, `.wh..wh..opq` hides a directory's lower content), setuid
 * bits and owners other than root.
 */
export function makeFilesLayer(entries: LayerEntry[]): TestLayer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const content = Buffer.from(e.content ?? '');
    const size = e.type === 'File' ? content.length : 0;
    const header = new Header({
      path: e.type === 'Directory' ? `${e.path}/` : e.path,
      mode: e.mode ?? (e.type === 'Directory' ? 0o755 : 0o644),
      size,
      mtime: new Date(0),
      type: e.type,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
    });
    header.encode();
    blocks.push(header.block as Buffer);
    if (size) blocks.push(content, Buffer.alloc((512 - (size % 512)) % 512));
  }
  const tar = Buffer.concat([...blocks, Buffer.alloc(1024)]);
  const gz = gzipSync(tar);
  return {
    digest: sha256(gz),
    size: gz.length,
    bytes: gz,
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    diffId: sha256(tar),
    file: entries.find((e) => e.type === 'File')?.path ?? '',
  };
}

/** What a file of the merged tree looks like, to compare with `docker export` or a mount. */
export interface TreeEntry {
  type: 'File' | 'Directory';
  mode: number;
  uid: number;
  gid: number;
  content?: string;
}

/**
 * Applies layers as an overlay does: a `.wh.NAME` removes NAME and all below it from lower
 * layers, a `.wh..wh..opq` empties its directory of lower content. Keys are paths.
 */
export function mergeLayers(layers: LayerEntry[][]): Map<string, TreeEntry> {
  const tree = new Map<string, TreeEntry>();
  const removeUnder = (dir: string) => {
    for (const key of [...tree.keys()]) if (key.startsWith(`${dir}/`)) tree.delete(key);
  };
  for (const layer of layers) {
    for (const e of layer) {
      const slash = e.path.lastIndexOf('/');
      const dir = slash < 0 ? '' : e.path.slice(0, slash);
      const name = e.path.slice(slash + 1);
      if (name === '.wh..wh..opq') {
        removeUnder(dir);
        continue;
      }
      if (name.startsWith('.wh.')) {
        const target = `${dir ? `${dir}/` : ''}${name.slice(4)}`;
        tree.delete(target);
        removeUnder(target);
      }
    }
    for (const e of layer) {
      if (e.path.split('/').at(-1)?.startsWith('.wh.')) continue;
      tree.set(e.path, {
        type: e.type,
        mode: e.mode ?? (e.type === 'Directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        ...(e.type === 'File' ? { content: e.content ?? '' } : {}),
      });
    }
  }
  return tree;
}

/**
 * Two layers exercising what a store must keep: the upper one deletes a file (whiteout) and
 * makes a directory opaque; the lower one has a setuid file and one owned by uid 1000. The
 * content names the platform, so each platform's layers differ.
 */
export function whiteoutLayers(p: TestPlatform): LayerEntry[][] {
  const arch = [p.architecture, p.variant].filter(Boolean).join('/');
  return [
    [
      { path: 'etc', type: 'Directory' },
      { path: 'etc/old.conf', type: 'File', content: 'removed above\n' },
      { path: 'etc/kept.conf', type: 'File', content: `kept on ${arch}\n` },
      { path: 'opt', type: 'Directory' },
      { path: 'opt/app', type: 'Directory' },
      { path: 'opt/app/old-a', type: 'File', content: 'hidden by opaque\n' },
      { path: 'opt/app/sub', type: 'Directory' },
      { path: 'opt/app/sub/old-b', type: 'File', content: 'hidden by opaque\n' },
      { path: 'usr', type: 'Directory' },
      { path: 'usr/bin', type: 'Directory' },
      { path: 'usr/bin/suid-tool', type: 'File', mode: 0o4755, content: '#!/bin/true\n' },
      { path: 'home', type: 'Directory' },
      { path: 'home/user', type: 'Directory', uid: 1000, gid: 1000, mode: 0o750 },
      { path: 'home/user/notes', type: 'File', uid: 1000, gid: 1000, mode: 0o600, content: 'mine\n' },
    ],
    [
      { path: 'etc', type: 'Directory' },
      { path: 'etc/.wh.old.conf', type: 'File' },
      { path: 'opt', type: 'Directory' },
      { path: 'opt/app', type: 'Directory' },
      { path: 'opt/app/.wh..wh..opq', type: 'File' },
      { path: 'opt/app/new', type: 'File', content: `new on ${arch}\n` },
    ],
  ];
}
