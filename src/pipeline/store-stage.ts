import { readFile } from 'node:fs/promises';
import type { CacheBackend } from '../cache/index.js';
import type { Platform } from '../oci/documents.js';
import {
  buildImageStore,
  engineIdentity,
  storeCacheKey,
  storeManifestPath,
  type StoreEngine,
  type StoreManifest,
  type StoreRequest,
} from '../store/index.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { PulledImage } from './pull-report.js';

export interface StoreOptions {
  engine: StoreEngine;
  namespace?: string;
  output: string;
  /** Keep the tarball in the cache, keyed by digests, platform and engine. */
  cache: boolean;
}

export interface StoreOutcome {
  path: string;
  manifest: StoreManifest;
  /** `restored` from the cache (no engine started), or `built` by the host's engine. */
  from: 'restored' | 'built';
  ms: number;
  key?: string;
  saved: boolean;
}

/** Builds the store; the action swaps in one that runs it as root. */
export type StoreBuilder = (request: StoreRequest) => Promise<StoreManifest>;

/**
 * The device's image store for the pulled images: restored from the cache when its key (digest
 * set, platform, engine, version, driver, namespace) was saved before, so no engine starts at
 * all; else built by the host's engine and saved.
 */
export async function imageStoreStage(o: {
  store: StoreOptions;
  layoutDir: string;
  images: PulledImage[];
  platform: Platform;
  prefix?: string;
  backend?: CacheBackend;
  build?: StoreBuilder;
  logger: Logger;
}): Promise<StoreOutcome> {
  const started = Date.now();
  const { store, logger } = o;
  const paths = [store.output, storeManifestPath(store.output)];
  const backend = store.cache && o.backend?.available() ? o.backend : undefined;
  const key = backend ? await keyOf(o) : undefined;
  if (backend && key) {
    const restored = await backend.restore(paths, key, []).catch((err: unknown) => {
      logger.warn(`image store: the cache could not be read (${errorMessage(err)}); building it`);
      return undefined;
    });
    if (restored === key) {
      const manifest = JSON.parse(await readFile(paths[1] as string, 'utf8')) as StoreManifest;
      logger.info(`image store: restored ${store.output} from the cache (${key}); no engine started`);
      return { path: store.output, manifest, from: 'restored', ms: Date.now() - started, key, saved: false };
    }
  }
  const manifest = await (o.build ?? buildImageStore)({
    layoutDir: o.layoutDir,
    engine: store.engine,
    namespace: store.namespace,
    output: store.output,
    logger,
  });
  const ms = Date.now() - started;
  let saved = false;
  if (backend && key) {
    saved = await backend.save(paths, key).then(
      (id) => id !== -1,
      (err: unknown) => {
        logger.warn(`image store: not saved to the cache (${errorMessage(err)})`);
        return false;
      },
    );
  }
  return { path: store.output, manifest, from: 'built', ms, key, saved };
}

async function keyOf(o: { store: StoreOptions; images: PulledImage[]; platform: Platform; prefix?: string }) {
  const identity = await engineIdentity(o.store.engine);
  return storeCacheKey({
    ...identity,
    images: o.images.map((i) => ({ reference: i.reference, digest: i.digest })),
    platform: o.platform,
    namespace: o.store.namespace,
    prefix: o.prefix,
  });
}
