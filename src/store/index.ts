/** The device's image store, built on the build host by its own engines (see buildImageStore). */
export { buildImageStore } from './build-store.js';
export { engineIdentity, storeCacheKey, type StoreKeyInput } from './store-key.js';
export { deviceRequirement, storeManifestPath } from './store-manifest.js';
export {
  DEFAULT_DATA_ROOT,
  DEFAULT_NAMESPACE,
  STORE_ENGINES,
  type StoreEngine,
  type StoreImage,
  type StoreManifest,
  type StoreRequest,
} from './store-types.js';
