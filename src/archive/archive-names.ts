import { shortDigest } from '../oci/digest.js';
import { familiarName, parseReference } from '../references/reference.js';

/** Keeps names well under the 255 bytes most file systems allow, with room for a suffix. */
const MAX_STEM = 200;

/**
 * A file name for one image's archive, safe on every file system and for
 * actions/upload-artifact (which rejects " : < > | * ? \ / and control characters):
 * `ghcr.io_planktoscope_segmenter_v2.tar`, or with the short digest for digest-only references.
 */
export function archiveFileName(reference: string, digest: string): string {
  const ref = parseReference(reference);
  const parts = [familiarName(ref).replace(/\//g, '_')];
  if (ref.tag) parts.push(ref.tag);
  if (ref.digest || !ref.tag) parts.push(shortDigest(ref.digest ?? digest));
  const stem = parts.join('_').replace(/[^A-Za-z0-9._-]/g, '_');
  return `${stem.length > MAX_STEM ? `${stem.slice(0, MAX_STEM)}_${shortDigest(digest)}` : stem}.tar`;
}

/**
 * One file name per image, unique even where file names are compared without case (macOS
 * and Windows runners): `Alpine:3` and `alpine:3`, or references the sanitiser maps to one
 * name, keep apart by the image's digest. The first keeps the plain name.
 */
export function uniqueArchiveFileNames(images: { reference: string; digest: string }[]): string[] {
  const used = new Set<string>();
  return images.map(({ reference, digest }) => {
    let name = archiveFileName(reference, digest);
    const stem = name.slice(0, -'.tar'.length);
    for (let n = 0; used.has(name.toLowerCase()); n++) {
      name = `${stem}_${shortDigest(digest)}${n ? `_${n}` : ''}.tar`;
    }
    used.add(name.toLowerCase());
    return name;
  });
}
