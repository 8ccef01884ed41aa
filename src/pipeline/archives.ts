import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { uniqueArchiveFileNames } from '../archive/archive-names.js';
import { planEntries, writeDockerArchive, type LayerCompression } from '../archive/docker-archive.js';
import { syncLayoutReader } from '../archive/sync-layout-reader.js';
import { fileWriteError } from '../archive/file-errors.js';
import { readLayoutImages, type LayoutImage } from '../layout/layout-images.js';
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
    await makeFolder(dirname(path), path, 'archive');
    const { size } = await writeDockerArchive(store, images, path, options);
    written.push({ path, size, references: images.map((i) => i.reference) });
    request.logger.info(`wrote ${path} (${images.length} images, ${formatBytes(size)})`);
  }
  if (request.archiveDir) {
    const dir = resolve(request.archiveDir);
    await makeFolder(dir, dir, 'archive folder');
    const silent = { ...request.logger, warn: () => undefined };
    const entries = planEntries(images, silent);
    const names = uniqueArchiveFileNames(
      entries.map(({ images: [first] }) => ({
        reference: (first as LayoutImage).reference,
        digest: (first as LayoutImage).manifestDigest,
      })),
    );
    for (const [i, entry] of entries.entries()) {
      const path = join(dir, names[i] as string);
      const { size } = await writeDockerArchive(store, entry.images, path, options);
      written.push({ path, size, references: entry.images.map((im) => im.reference) });
      request.logger.info(`wrote ${path} (${formatBytes(size)})`);
    }
  }
  return written;
}

/** Creates `dir`; a failure is one line naming `path`, what the user asked for. */
async function makeFolder(dir: string, path: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw fileWriteError(err, path, what);
  }
}
