import {
  cacheKey,
  restoreKeyPrefix,
  restoreLayout,
  type CacheBackend,
  type CacheHit,
  type DigestPair,
} from '../cache/index.js';
import { LayoutSource } from '../layout/layout-source.js';
import { LayoutStore } from '../layout/layout-store.js';
import type { ContentSource } from '../oci/content-source.js';
import type { Platform } from '../oci/documents.js';
import { shortDigest } from '../oci/digest.js';
import { parseReference } from '../references/reference.js';
import { errorMessage, UserError, type ErrorCode } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { tryResolveDigests } from './resolve-digests.js';
import { oneFailure } from './failures.js';

export interface CacheOutcome {
  key: string;
  hit: CacheHit;
  matchedKey?: string;
  saved: boolean;
}

export interface Restored {
  cache: CacheOutcome;
  /** Every reference's top-level digest, so the pull asks for no tag again. */
  resolved: Map<string, string>;
  /** References whose digest came from the cached layout because their registry failed. */
  stale: Set<string>;
}

export interface RestoreOptions {
  references: string[];
  /** Where tags are resolved: the registry. */
  source: ContentSource;
  backend: CacheBackend;
  layoutDir: string;
  platform: Platform;
  prefix?: string;
  concurrency: number;
  onRegistryError: 'use-cache' | 'fail';
  failOnCacheMiss: boolean;
  logger: Logger;
}

/**
 * Failures of a registry, not of the request: unreachable, failing, rate-limiting, or refusing
 * anonymous access it used to allow. A cached layout may stand in for these.
 */
const OUTAGES: ReadonlySet<ErrorCode> = new Set([
  'dns',
  'unreachable',
  'registry-failing',
  'rate-limited',
  'denied',
]);

const isOutage = (err: unknown) =>
  err instanceof UserError && err.code !== undefined && OUTAGES.has(err.code);

/**
 * Resolves every tag, keys the digest set, and restores the layout for that key (or the newest
 * of its prefix). When a registry is down, the digests of its tags come from the newest cached
 * layout instead (`on-registry-error: use-cache`), each with a warning.
 */
export async function restoreFromCache(o: RestoreOptions): Promise<Restored> {
  const { pairs, failures } = await tryResolveDigests(o.references, o.source, o.concurrency);
  const fallback = o.onRegistryError === 'use-cache' ? failures.filter((f) => isOutage(f.error)) : [];
  const fatal = failures.filter((f) => !fallback.includes(f));
  if (fatal.length)
    throw oneFailure(
      fatal.map((f) => ({ image: f.reference, error: f.error })),
      o.logger,
    );
  const stale = new Set<string>();
  let key = cacheKey(pairs, o.platform, o.prefix);
  let restored: { hit: CacheHit; matchedKey?: string };
  if (fallback.length === 0) {
    restored = await restoreLayout(o.backend, { layoutDir: o.layoutDir, key, logger: o.logger });
  } else {
    // The exact key needs every digest: the newest layout of this prefix and platform stands in.
    restored = await restoreLayout(o.backend, {
      layoutDir: o.layoutDir,
      key: `${restoreKeyPrefix(key)}unresolved`,
      logger: o.logger,
    });
    pairs.push(...(await digestsFromLayout(fallback, o, restored.hit)));
    for (const f of fallback) stale.add(f.reference);
    key = cacheKey(pairs, o.platform, o.prefix);
    // The cached run had these very digests: as good as an exact hit.
    if (restored.matchedKey === key) restored = { ...restored, hit: 'exact' };
  }
  if (o.failOnCacheMiss && restored.hit === 'miss') {
    throw new UserError(`no cached layout for ${key} or its prefix, and fail-on-cache-miss is set`, {
      code: 'layout',
    });
  }
  return {
    cache: { key, ...restored, saved: false },
    resolved: new Map(pairs.map((p) => [p.reference, p.digest])),
    stale,
  };
}

async function digestsFromLayout(
  failed: { reference: string; error: unknown }[],
  o: RestoreOptions,
  hit: CacheHit,
): Promise<DigestPair[]> {
  const layout =
    hit === 'prefix' || hit === 'exact'
      ? new LayoutSource(await LayoutStore.open(o.layoutDir, { create: false }))
      : undefined;
  const pairs: DigestPair[] = [];
  const missing: unknown[] = [];
  for (const f of failed) {
    const entry = await layout?.entry(parseReference(f.reference));
    if (!entry) {
      const why = layout ? 'the cached layout does not have it' : 'no cached layout could stand in';
      missing.push(f.error instanceof UserError ? f.error.with({}, `${f.error.message} (${why})`) : f.error);
      continue;
    }
    o.logger.warn(
      `${f.reference}: ${errorMessage(f.error)}; using ${shortDigest(entry.digest)} as the cached layout recorded it, which may be stale`,
    );
    pairs.push({ reference: f.reference, digest: entry.digest });
  }
  if (missing.length) throw oneFailure(missing, o.logger);
  return pairs;
}
