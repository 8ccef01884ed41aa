export { actionsCacheBackend, restoreKeyPrefix, restoreLayout, saveLayout } from './layout-cache.js';
export type { CacheBackend, CacheHit } from './layout-cache.js';
