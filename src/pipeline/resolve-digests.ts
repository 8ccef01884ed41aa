import { parseReference } from '../references/reference.js';
import type { ContentSource } from '../oci/content-source.js';
import { Limiter } from '../util/limit.js';
import type { DigestPair } from '../cache/index.js';

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
