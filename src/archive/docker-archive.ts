import { Transform } from 'node:stream';
import type { DockerArchiveEntry } from '../oci/documents.js';
import { newDigester } from '../oci/digest.js';
import type { LayoutImage } from '../layout/layout-images.js';
import type { LayoutStore } from '../layout/layout-store.js';
import { blobName, keepEntries, planEntries, type ArchiveEntry } from './archive-plan.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { decompressor, detectCodec } from './layer-decompress.js';
import { SMALL_BLOB_BYTES, TarWriter } from './tar-writer.js';

export type LayerCompression = 'keep' | 'none';

export interface ArchiveOptions {
  layerCompression: LayerCompression;
  logger: Logger;
}

/**
 * Writes a docker-archive that `docker load` (manifest.json) and OCI-aware loaders
 * (oci-layout + index.json pointing at the original top-level documents) both read.
 * Each blob is stored once, entries are in a fixed order with fixed metadata, and the
 * file appears under `path` only when complete.
 */
export async function writeDockerArchive(
  store: LayoutStore,
  images: LayoutImage[],
  path: string,
  options: ArchiveOptions,
): Promise<{ path: string; size: number }> {
  const entries = planEntries(images, options.logger);
  const tar = await TarWriter.create(path);
  try {
    if (options.layerCompression === 'keep') await writeKeep(tar, store, images, entries, options.logger);
    else await writeUncompressed(tar, store, entries);
    return { path, size: await tar.finish() };
  } catch (err) {
    await tar.abort();
    throw err;
  }
}

/** Registry bytes as they are (see keepEntries): every entry in plan order. */
async function writeKeep(
  tar: TarWriter,
  store: LayoutStore,
  images: LayoutImage[],
  entries: ArchiveEntry[],
  logger: Logger,
) {
  warnZstd(images, logger);
  for (const entry of keepEntries(images, entries)) {
    if (entry.kind === 'directory') await tar.addDirectory(entry.name);
    else if (entry.kind === 'bytes') await tar.addBytes(entry.name, entry.bytes);
    else await onLayoutBlob(store, entry.digest, () => writeBlob(tar, store, entry));
  }
}

/** Says which images Docker Engine before 23.0 cannot load as they are. */
export function warnZstd(images: LayoutImage[], logger: Logger): void {
  for (const i of images) {
    if (i.manifest.layers.some((l) => l.mediaType.includes('zstd'))) {
      logger.warn(
        `${i.reference} has zstd-compressed layers, which Docker Engine before 23.0 cannot load (docker load fails with "invalid tar header"): use --layer-compression none to store them decompressed`,
      );
    }
  }
}

/** A blob: a small one copied into the writer's buffer, a large one streamed. */
async function writeBlob(
  tar: TarWriter,
  store: LayoutStore,
  blob: { name: string; digest: string; size: number },
) {
  if (blob.size <= SMALL_BLOB_BYTES)
    await tar.addSmallFile(blob.name, store.blobPath(blob.digest), blob.size);
  else await tar.addStream(blob.name, blob.size, store.openBlob(blob.digest));
}

/**
 * Runs `copy` of one blob of the layout: writing failures are UserErrors naming the archive
 * already, so what is left is reading the layout.
 */
export async function onLayoutBlob<T>(
  store: LayoutStore,
  digest: string,
  copy: () => Promise<T>,
): Promise<T> {
  try {
    return await copy();
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `layout ${store.dir}: blob ${digest} is damaged or went missing (${(err as Error).message})`,
      { code: 'layout', blob: digest, cause: err },
    );
  }
}

/**
 * Decompressed layers, named by their diff_id, so a loader on slow (emulated) hardware only
 * unpacks tars. Each layer is decompressed while it is written and its digest checked against
 * the config's diff_ids. The registry's manifests do not describe these bytes, so this is a
 * classic docker-archive without an OCI index.
 */
async function writeUncompressed(tar: TarWriter, store: LayoutStore, entries: ArchiveEntry[]) {
  const manifestJson: DockerArchiveEntry[] = entries.map((e) => {
    const image = e.images[0] as LayoutImage;
    return {
      Config: blobName(image.manifest.config.digest),
      RepoTags: e.repoTags,
      Layers: image.config.rootfs.diff_ids.map(blobName),
    };
  });
  await tar.addBytes('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
  await tar.addDirectory('blobs');
  await tar.addDirectory('blobs/sha256');
  const written = new Set<string>();
  for (const e of entries) {
    const image = e.images[0] as LayoutImage;
    const config = image.manifest.config;
    if (!written.has(config.digest)) {
      written.add(config.digest);
      await tar.addStream(blobName(config.digest), config.size, store.openBlob(config.digest));
    }
    for (const [i, layer] of image.manifest.layers.entries()) {
      const diffId = image.config.rootfs.diff_ids[i] as string;
      if (written.has(diffId)) continue;
      written.add(diffId);
      const codec = await detectCodec(store.blobPath(layer.digest));
      const source = store.openBlob(layer.digest);
      const inflate = decompressor(codec, layer.digest);
      const hash = newDigester();
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      const stream = inflate ? source.pipe(inflate).pipe(hashing) : source.pipe(hashing);
      source.on('error', (err) => stream.destroy(err));
      inflate?.on('error', (err) => stream.destroy(err));
      await tar.addUnsizedStream(blobName(diffId), stream);
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== diffId) {
        throw new UserError(
          `image ${image.reference}: layer ${layer.digest} decompresses to ${actual}, but the image config says diff_id ${diffId}; the image is broken (docker load would refuse it): rebuild or re-push it`,
        );
      }
    }
  }
}
