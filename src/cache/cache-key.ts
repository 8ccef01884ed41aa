import { createHash } from 'node:crypto';
import type { Platform } from '../oci/documents.js';
import { platformSlug } from '../oci/platform.js';

/** Bump when the layout's format or what the key covers changes, so old caches are not restored. */
const KEY_FORMAT_VERSION = 'cache-images-key-v1';

/** A reference and the top-level digest it resolved to. */
export interface DigestPair {
  reference: string;
  digest: string;
}

const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * `<prefix>-<os>-<arch>[-<variant>]-<hash>`: the same pairs and platform give the same key on
 * any machine; a moved tag or an added image gives another.
 */
export function cacheKey(pairs: DigestPair[], platform: Platform, prefix = 'cache-images'): string {
  const hash = createHash('sha256').update(`${KEY_FORMAT_VERSION}\n`);
  for (const pair of [...pairs].sort((a, b) => bytewise(a.reference, b.reference))) {
    hash.update(`${pair.reference} ${pair.digest}\n`);
  }
  return `${prefix}-${platformSlug(platform)}-${hash.digest('hex').slice(0, 32)}`;
}
