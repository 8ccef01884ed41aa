import { shortDigest } from '../oci/digest.js';
import { familiarName, parseReference } from '../references/reference.js';

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
  return `${parts.join('_').replace(/[^A-Za-z0-9._-]/g, '_')}.tar`;
}
