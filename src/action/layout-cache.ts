import { actionsCacheBackend, restoreLayout, saveLayout } from '../cache/index.js';
import type { LayoutCache } from '../pipeline/job.js';
import type { Logger } from '../util/log.js';

/** The pipeline's cache seam, filled by the GitHub Actions cache. */
export function actionsLayoutCache(logger: Logger): LayoutCache {
  const backend = actionsCacheBackend();
  return {
    restore: (layoutDir, key) => restoreLayout(backend, { layoutDir, key, logger }),
    save: (layoutDir, key, hit) => saveLayout(backend, { layoutDir, key, hit, logger }),
  };
}
