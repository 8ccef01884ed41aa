import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { archiveFileName } from '../archive/archive-names.js';
import { planEntries, writeDockerArchive, type LayerCompression } from '../archive/docker-archive.js';
import { syncLayoutReader } from '../archive/sync-layout-reader.js';
import { readLayoutImages } from '../layout/layout-images.js';
import { LayoutStore } from '../layout/layout-store.js';
import { formatBytes, type Logger } from '../util/log.js';

export interface ArchiveRequest {
  layoutDir: string;
  /** One archive holding every image. */
  archive?: string;
  /** A directory receiving one archive per image. */
  archiveDir?: string;
  layerCompression: LayerCompression;
  logger: Logger;
}

export interface WrittenArchive {
  path: string;
  size: number;
  references: string[];
}

/** Writes the requested docker-archives from a complete layout. */
export async function writeArchives(request: ArchiveRequest): Promise<WrittenArchive[]> {
  const store = await LayoutStore.open(request.layoutDir, { create: false });
  const images = await readLayoutImages(syncLayoutReader(store));
  const options = { layerCompression: request.layerCompression, logger: request.logger };
  const written: WrittenArchive[] = [];
  if (request.archive) {
    const path = resolve(request.archive);
    await mkdir(dirname(path), { recursive: true });
    const { size } = await writeDockerArchive(store, images, path, options);
    written.push({ path, size, references: images.map((i) => i.reference) });
    request.logger.info(`wrote ${path} (${images.length} images, ${formatBytes(size)})`);
  }
  if (request.archiveDir) {
    const dir = resolve(request.archiveDir);
    await mkdir(dir, { recursive: true });
    const silent = { ...request.logger, warn: () => undefined };
    const used = new Set<string>();
    for (const entry of planEntries(images, silent)) {
      const first = entry.images[0];
      if (!first) continue;
      let name = archiveFileName(first.reference, first.manifestDigest);
      // Two references that sanitise to one name: keep both apart by digest.
      if (used.has(name)) name = name.replace(/\.tar$/, `_${first.manifestDigest.slice(7, 19)}.tar`);
      used.add(name);
      const path = join(dir, name);
      const { size } = await writeDockerArchive(store, entry.images, path, options);
      written.push({ path, size, references: entry.images.map((i) => i.reference) });
      request.logger.info(`wrote ${path} (${formatBytes(size)})`);
    }
  }
  return written;
}
