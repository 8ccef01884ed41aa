import { formatBytes } from '../util/log.js';
import type { InspectedImage, Inspection } from './inspect-images.js';

/** The JSON `inspect --json` prints: per image its names, digests, platform, size and layers. */
export function inspectionJson(inspection: Inspection, verified?: number) {
  return {
    source: inspection.where,
    format: inspection.format,
    ...(verified === undefined ? {} : { verifiedBlobs: verified }),
    images: inspection.images.map((i) => ({
      references: i.references,
      digest: i.digest,
      manifest: i.manifest,
      id: i.id,
      platform: i.platform,
      size: i.size,
      layers: i.layers.map((l) => ({
        path: l.path,
        size: l.size,
        ...(l.digest ? { digest: l.digest } : {}),
        ...(l.diffId ? { diffId: l.diffId } : {}),
      })),
    })),
  };
}

const short = (digest: string | null) => (digest ? digest.slice(0, 'sha256:'.length + 12) : '-');

/** One line per image, in aligned columns. */
export function inspectionTable(images: InspectedImage[]): string {
  const rows = [
    ['REFERENCE', 'DIGEST', 'IMAGE ID', 'PLATFORM', 'SIZE', 'LAYERS'],
    ...images.map((i) => [
      i.references.join(', ') || '<none>',
      short(i.digest),
      short(i.id),
      i.platform,
      formatBytes(i.size),
      String(i.layers.length),
    ]),
  ];
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length))) ?? [];
  return rows
    .map(
      (r) =>
        `${r
          .map((cell, c) => cell.padEnd(widths[c] as number))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}
