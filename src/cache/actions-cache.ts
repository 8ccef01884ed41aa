import * as cache from '@actions/cache';
import type { CacheBackend } from './layout-cache.js';

/**
 * The Actions cache service as a CacheBackend. Its own module, imported by the action alone:
 * the client and its Azure SDK are most of the bundle, and the CLI never needs them.
 */
export function actionsCacheBackend(): CacheBackend {
  return {
    available: () => cache.isFeatureAvailable(),
    restore: (paths, key, restoreKeys) => cache.restoreCache(paths, key, restoreKeys),
    save: (paths, key) => cache.saveCache(paths, key),
  };
}
