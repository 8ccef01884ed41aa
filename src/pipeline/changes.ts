import { LayoutSource } from '../layout/layout-source.js';
import { LayoutStore } from '../layout/layout-store.js';
import type { Platform } from '../oci/documents.js';
import { Annotation } from '../oci/media-types.js';
import { resolveImage } from '../oci/resolve-image.js';
import { parseReference } from '../references/reference.js';
import { bytewise } from './images.js';
import { imageSize } from './pull-report.js';

/** What a layout held for one reference. */
export interface HeldImage {
  reference: string;
  digest: string;
  size: number;
}

export interface LayoutChanges {
  added: HeldImage[];
  removed: HeldImage[];
  updated: { reference: string; from: string; to: string; sizeChange: number }[];
  unchanged: number;
}

/**
 * What a layout holds before the pull changes it (the restored cache), per reference. A layout
 * that is missing, or an image it cannot resolve, is simply not there: this only feeds the
 * "changes" report, never a failure.
 */
export async function heldImages(layoutDir: string, platform: Platform): Promise<HeldImage[]> {
  let store: LayoutStore;
  try {
    store = await LayoutStore.open(layoutDir, { create: false });
  } catch {
    return [];
  }
  const source = new LayoutSource(store);
  let entries;
  try {
    entries = (await store.readIndex()).manifests;
  } catch {
    return [];
  }
  const held: HeldImage[] = [];
  for (const entry of entries) {
    const name = entry.annotations?.[Annotation.RefName];
    if (!name) continue;
    try {
      const image = await resolveImage(source, parseReference(name), platform, entry);
      held.push({ reference: name, digest: entry.digest, size: imageSize(image) });
    } catch {
      // Incomplete in the restored layout: the pull completes it; it is not a change.
    }
  }
  return held;
}

/** Added, removed and updated references between two states of a layout. */
export function layoutChanges(before: HeldImage[], after: HeldImage[]): LayoutChanges {
  const old = new Map(before.map((i) => [i.reference, i]));
  const now = new Map(after.map((i) => [i.reference, i]));
  const changes: LayoutChanges = { added: [], removed: [], updated: [], unchanged: 0 };
  for (const i of after) {
    const was = old.get(i.reference);
    if (!was) changes.added.push(i);
    else if (was.digest !== i.digest)
      changes.updated.push({
        reference: i.reference,
        from: was.digest,
        to: i.digest,
        sizeChange: i.size - was.size,
      });
    else changes.unchanged++;
  }
  for (const i of before) if (!now.has(i.reference)) changes.removed.push(i);
  const order = (a: { reference: string }, b: { reference: string }) => bytewise(a.reference, b.reference);
  changes.added.sort(order);
  changes.removed.sort(order);
  changes.updated.sort(order);
  return changes;
}
