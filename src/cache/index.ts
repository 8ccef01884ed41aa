export { restoreKeyPrefix, restoreLayout, saveLayout, shouldSave } from './layout-cache.js';
export type { CacheBackend, CacheHit, CacheMode } from './layout-cache.js';
export { cacheKey, type DigestPair } from './cache-key.js';
