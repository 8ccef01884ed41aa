import { readFileSync, statSync } from 'node:fs';
import type { LayoutReader } from '../layout/layout-images.js';
import type { LayoutStore } from '../layout/layout-store.js';
import { isNotFound } from '../util/fs.js';

/**
 * The layout's documents read with synchronous calls. Writing an archive does nothing else
 * meanwhile, and for thousands of small files each thread-pool round trip (stat, open,
 * read, close) cost more than the work itself: this was most of an archive's per-blob cost.
 */
export function syncLayoutReader(store: LayoutStore): LayoutReader {
  return {
    dir: store.dir,
    readIndex: () => store.readIndex(),
    hasBlob: async (desc) => {
      try {
        const s = statSync(store.blobPath(desc.digest));
        return s.isFile() && s.size === desc.size;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    readBlob: async (digest) => readFileSync(store.blobPath(digest)),
  };
}
