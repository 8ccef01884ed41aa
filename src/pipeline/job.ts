import { resolve } from 'node:path';
import type { LayerCompression } from '../archive/docker-archive.js';
import type { Platform } from '../oci/documents.js';
import type { RequiredImage } from '../pallet/index.js';
import { RegistryClient } from '../registry/client.js';
import type { CredentialStore } from '../registry/credentials.js';
import { writeFileAtomic } from '../util/fs.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { writeArchives, type WrittenArchive } from './archives.js';
import { cacheKey, resolveDigests } from './cache-key.js';
import { selectImages, type ImageSelection } from './images.js';
import { pullImages, type PullReport } from './pull.js';

import type { CacheHit } from '../cache/index.js';

export type { CacheHit };

/**
 * Where a layout is kept between runs (the Actions cache in the action). Restore fills the
 * layout directory from the entry for `key`, or from an older entry of the same prefix.
 */
export interface LayoutCache {
  restore(layoutDir: string, key: string): Promise<{ hit: CacheHit; matchedKey?: string }>;
  save(layoutDir: string, key: string, hit: CacheHit): Promise<{ saved: boolean }>;
}

export interface PullJobOptions extends ImageSelection {
  platform: Platform;
  layoutDir: string;
  archive?: string;
  archiveDir?: string;
  layerCompression: LayerCompression;
  concurrency: number;
  verify?: boolean;
  insecureRegistries: string[];
  mirrors?: Record<string, string[]>;
  caFiles?: string[];
  reportFile?: string;
  credentials?: CredentialStore;
  /** Keep the layout between runs, keyed by the digest set. */
  cache?: LayoutCache;
  cacheKeyPrefix?: string;
  /** `restore-only` restores but never saves (forks' pull requests, jobs that must not evict others). */
  cacheMode?: 'read-write' | 'restore-only';
  /** Fail when no layout was restored under the exact key (as actions/cache's fail-on-cache-miss). */
  failOnCacheMiss?: boolean;
  /** A tag whose registry fails: `use-cache` takes the digest the cached layout recorded; `fail` fails. */
  onRegistryError?: 'use-cache' | 'fail';
  /** Use only the layout; never contact a registry. */
  offline?: boolean;
  /** How long to wait for another process holding the layout (default 10 min). */
  lockTimeoutMs?: number;
  /** A response body idle this long aborts the attempt (default 30 s). */
  idleTimeoutMs?: number;
  /** Also build the device's image store from the layout. */
  imageStore?: { engine: 'docker' | 'containerd'; namespace?: string; output: string; cache: boolean };
  logger: Logger;
  /** Runs each phase; the action wraps them in log groups. */
  phase?: <T>(name: string, work: () => Promise<T>) => Promise<T>;
}

export interface CacheOutcome {
  key: string;
  hit: CacheHit;
  matchedKey?: string;
  saved: boolean;
}

export interface PullJobResult {
  report: PullReport & { archives: WrittenArchive[]; cache?: CacheOutcome };
  /** What the pallet says of each of its images: where each is required. */
  pallet: RequiredImage[];
}

/**
 * The main job, shared by the CLI's `pull` and the action: the pallet's images plus extra
 * ones; with a cache, the digest set's key, a restore, and a save when the key was not hit;
 * the pull for one platform into the layout; then the docker-archives.
 */
export async function runPullJob(options: PullJobOptions): Promise<PullJobResult> {
  const { logger } = options;
  const phase = options.phase ?? (<T>(_name: string, work: () => Promise<T>) => work());
  const layoutDir = resolve(options.layoutDir);
  const { references, pallet } = await phase('Resolve the image list', () =>
    selectImages({ ...options, warn: options.warn ?? ((m) => logger.warn(m)) }),
  );
  if (references.length === 0)
    logger.warn('no images to pull: the pallet requires none and no extra image was given');
  const client = new RegistryClient({
    logger,
    insecureHosts: options.insecureRegistries,
    mirrors: options.mirrors,
    caFiles: options.caFiles,
    credentials: options.credentials,
  });
  let pulled: PullReport;
  let cache: CacheOutcome | undefined;
  try {
    let resolved: Map<string, string> | undefined;
    if (options.cache) {
      const layoutCache = options.cache;
      cache = await phase('Restore the layout from the cache', async () => {
        const pairs = await resolveDigests(references, client, options.concurrency);
        resolved = new Map(pairs.map((p) => [p.reference, p.digest]));
        const key = cacheKey(pairs, options.platform, options.cacheKeyPrefix);
        const restored = await layoutCache.restore(layoutDir, key);
        return { key, ...restored, saved: false };
      });
    }
    pulled = await phase('Pull images', () =>
      pullImages(references, {
        platform: options.platform,
        layoutDir,
        client,
        logger,
        concurrency: options.concurrency,
        verify: options.verify,
        resolved,
      }),
    );
    if (options.cache && cache && cache.hit !== 'exact') {
      const outcome = cache;
      const layoutCache = options.cache;
      const { saved } = await phase('Save the layout to the cache', () =>
        layoutCache.save(layoutDir, outcome.key, outcome.hit),
      );
      outcome.saved = saved;
    }
  } catch (err) {
    throw withRequirements(err, pallet);
  } finally {
    await client.close();
  }
  const archives =
    options.archive || options.archiveDir
      ? await phase('Write archives', () =>
          writeArchives({
            layoutDir,
            archive: options.archive,
            archiveDir: options.archiveDir,
            layerCompression: options.layerCompression,
            logger,
          }),
        )
      : [];
  const report = { ...pulled, archives, ...(cache ? { cache } : {}) };
  if (options.reportFile)
    await writeFileAtomic(resolve(options.reportFile), `${JSON.stringify(report, null, 2)}\n`);
  return { report, pallet };
}

/** A registry error about a pallet image also says which deployments need that image. */
function withRequirements(err: unknown, pallet: RequiredImage[]): unknown {
  if (!(err instanceof UserError) || !err.image) return err;
  const required = pallet.find((i) => i.reference === err.image);
  if (!required?.requiredBy.length) return err;
  const where = [...new Set(required.requiredBy.map((r) => `${r.deployment} (${r.file})`))].join(', ');
  return new UserError(`${err.message} [required by deployment ${where}]`, { image: err.image, cause: err });
}
