import { createHash } from 'node:crypto';
import type { Platform } from '../oci/documents.js';
import { platformSlug } from '../oci/platform.js';
import { parseReference } from '../references/reference.js';
import type { ContentSource } from '../oci/content-source.js';
import { Limiter } from '../util/limit.js';
import { bytewise } from './images.js';

/** Bump when the layout's format or what the key covers changes, so old caches are not restored. */
const KEY_FORMAT_VERSION = 'cache-images-key-v1';

export interface DigestPair {
  reference: string;
  digest: string;
}

export interface Resolution {
  pairs: DigestPair[];
  /** References whose tag could not be resolved, with why. */
  failures: { reference: string; error: unknown }[];
}

/**
 * The top-level digest of every reference: pinned ones need no request, tags are resolved
 * through the source (HEAD at a registry, free under Docker Hub's pull limit). Failures are
 * collected, not thrown, so the caller can fall back or report each cause once.
 */
export async function tryResolveDigests(
  references: string[],
  source: ContentSource,
  concurrency = 8,
): Promise<Resolution> {
  const limiter = new Limiter(concurrency);
  const settled = await Promise.allSettled(
    references.map(async (reference) => {
      const ref = parseReference(reference);
      return { reference, digest: ref.digest ?? (await limiter.run(() => source.resolve(ref))).digest };
    }),
  );
  // In the references' order, whatever finished first: the same run reports the same first failure.
  const out: Resolution = { pairs: [], failures: [] };
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') out.pairs.push(s.value);
    else out.failures.push({ reference: references[i] as string, error: s.reason });
  });
  return out;
}

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
