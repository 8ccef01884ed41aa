import { readFile } from 'node:fs/promises';
import { runTool } from './host-tools.js';

/** /proc/mounts escapes space, tab, newline and backslash in octal. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string, table = '/proc/mounts'): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(table, 'utf8');
  } catch {
    return [];
  }
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((f): f is string => Boolean(f))
    .map(unescapeMountPath)
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Unmounts whatever an engine left below `dir` (a killed dockerd keeps its data-root bind
 * mount; a killed containerd its overlay mounts). A busy mount is detached lazily so the
 * folder can still be removed. Returns the mount points that could not be released.
 */
export async function releaseMounts(dir: string): Promise<string[]> {
  for (const point of await mountsUnder(dir)) {
    try {
      await runTool('umount', [point], { timeoutMs: 30_000 });
    } catch {
      await runTool('umount', ['-l', point], { timeoutMs: 30_000 }).catch(() => undefined);
    }
  }
  return mountsUnder(dir);
}
