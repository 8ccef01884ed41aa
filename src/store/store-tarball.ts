import { access } from 'node:fs/promises';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { temporarySibling } from '../util/fs.js';
import { runTool } from './host-tools.js';

export interface TarballRequest {
  /** The folder standing for the device's root file system. */
  rootfs: string;
  /** The engine's data folder on the device, absolute (`/var/lib/docker`). */
  dataRoot: string;
  /** Folders below the data root to keep. */
  paths: string[];
  output: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Learns the temporary name first, so an interrupt can remove it. */
  onTemporary?: (path: string) => void;
}

/** GNU tar keeps owners by number, modes, all extended attributes and device files. */
export const TAR_CREATE_FLAGS = ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--sort=name'];

/** How the device's OS build extracts the tarball (root file system at `/`). */
export const EXTRACT_COMMAND = "tar --xattrs --xattrs-include='*' --numeric-owner -xpf";

/**
 * The tar member names: the data root and the folders between it and each store path as bare
 * entries (so they are created with the engine's modes), then each store path with its content.
 */
export function tarMembers(dataRoot: string, paths: string[]): { bare: string[]; full: string[] } {
  const root = posix.normalize(dataRoot).replace(/^\/+|\/+$/g, '');
  const bare = new Set<string>([root]);
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) bare.add(`${root}/${parts.slice(0, i).join('/')}`);
  }
  return { bare: [...bare], full: paths.map((p) => `${root}/${p}`) };
}

/**
 * Writes the tarball of the engine's store under a temporary name and renames it into place:
 * a failed or interrupted run leaves no half tarball. Returns its size in bytes.
 */
export async function writeStoreTarball(request: TarballRequest): Promise<number> {
  const { bare, full } = tarMembers(request.dataRoot, request.paths);
  const present: string[] = [];
  for (const member of full) {
    if (
      await access(join(request.rootfs, member)).then(
        () => true,
        () => false,
      )
    )
      present.push(member);
  }
  await mkdir(dirname(request.output), { recursive: true });
  const tmp = temporarySibling(request.output);
  request.onTemporary?.(tmp);
  try {
    await runTool(
      'tar',
      [
        ...TAR_CREATE_FLAGS,
        '-C',
        request.rootfs,
        '-cf',
        tmp,
        '--no-recursion',
        ...bare,
        '--recursion',
        ...present,
      ],
      { timeoutMs: request.timeoutMs, signal: request.signal },
    );
    await rename(tmp, request.output);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return (await stat(request.output)).size;
}
