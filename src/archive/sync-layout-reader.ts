import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayoutReader } from '../layout/layout-images.js';
import type { LayoutStore } from '../layout/layout-store.js';
import { digestHex } from '../oci/digest.js';

/**
 * The layout's documents read with synchronous calls, and its blobs known from one listing.
 * Writing an archive does nothing else meanwhile, and for thousands of small files each
 * thread-pool round trip (stat, open, read, close) cost more than the work itself: this was
 * most of an archive's per-blob cost. A blob's size is not checked here: the archive writer
 * checks every byte count as it copies.
 */
export function syncLayoutReader(store: LayoutStore): LayoutReader {
  let present: Set<string> | undefined;
  return {
    dir: store.dir,
    readIndex: () => store.readIndex(),
    hasBlob: async (desc) => {
      present ??= new Set(readdirSync(join(store.dir, 'blobs', 'sha256')));
      return present.has(digestHex(desc.digest));
    },
    readBlob: async (digest) => readFileSync(store.blobPath(digest)),
  };
}
