import { Transform } from 'node:stream';
import type { Descriptor, DockerArchiveEntry } from '../oci/documents.js';
import { digestHex, newDigester } from '../oci/digest.js';
import { Annotation, MediaType } from '../oci/media-types.js';
import type { LayoutImage } from '../layout/layout-images.js';
import type { LayoutStore } from '../layout/layout-store.js';
import { familiarTag, parseReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { decompressor, detectCodec } from './layer-decompress.js';
import { SMALL_BLOB_BYTES, TarWriter } from './tar-writer.js';

export type LayerCompression = 'keep' | 'none';

export interface ArchiveOptions {
  layerCompression: LayerCompression;
  logger: Logger;
}

/** Images sharing one platform manifest become one manifest.json entry with all their tags. */
interface ArchiveEntry {
  images: LayoutImage[];
  repoTags: string[];
}

const blobName = (digest: string) => `blobs/sha256/${digestHex(digest)}`;

/**
 * Groups images by platform manifest and gives each group its RepoTags: every tagged reference
 * (`name:tag`, digest dropped), each tag once in the whole archive. A digest-only reference
 * has no tag, so the classic store loads it untagged.
 */
export function planEntries(images: LayoutImage[], logger: Logger): ArchiveEntry[] {
  const byManifest = new Map<string, ArchiveEntry>();
  const owner = new Map<string, string>();
  for (const image of images) {
    let entry = byManifest.get(image.manifestDigest);
    if (!entry) {
      entry = { images: [], repoTags: [] };
      byManifest.set(image.manifestDigest, entry);
    }
    entry.images.push(image);
    const tag = familiarTag(parseReference(image.reference));
    if (!tag) {
      logger.warn(
        `${image.reference} has no tag: Docker's classic image store loads it untagged; pin it as name:tag@digest to load it by name`,
      );
      continue;
    }
    const previous = owner.get(tag);
    if (previous === undefined) {
      owner.set(tag, image.manifestDigest);
      entry.repoTags.push(tag);
    } else if (previous !== image.manifestDigest) {
      logger.warn(
        `${tag} names two different images in this archive (${image.reference}); the first keeps the tag`,
      );
    }
  }
  return [...byManifest.values()];
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

/**
 * Registry bytes as they are: manifest.json for `docker load`, plus oci-layout and an index.json
 * pointing at the original top-level documents, so loaders that keep digests resolve
 * `name@sha256:...` references offline.
 */
async function writeKeep(
  tar: TarWriter,
  store: LayoutStore,
  images: LayoutImage[],
  entries: ArchiveEntry[],
  logger: Logger,
) {
  for (const i of images) {
    if (i.manifest.layers.some((l) => l.mediaType.includes('zstd'))) {
      logger.warn(
        `${i.reference} has zstd-compressed layers, which Docker Engine before 23.0 cannot load (docker load fails with "invalid tar header"): use --layer-compression none to store them decompressed`,
      );
    }
  }
  const manifestJson: DockerArchiveEntry[] = entries.map((e) => {
    const image = e.images[0] as LayoutImage;
    return {
      Config: blobName(image.manifest.config.digest),
      RepoTags: e.repoTags,
      Layers: image.manifest.layers.map((l) => blobName(l.digest)),
    };
  });
  const indexDescriptors: Descriptor[] = images.map((i) => ({
    mediaType: i.descriptor.mediaType,
    digest: i.descriptor.digest,
    size: i.descriptor.size,
    annotations: {
      [Annotation.ContainerdImageName]:
        i.descriptor.annotations?.[Annotation.ContainerdImageName] ?? i.reference,
      [Annotation.RefName]: i.reference,
    },
  }));
  // Blobs in first-use order: top-level document, platform manifest, config, layers.
  const blobs = new Map<string, number | undefined>();
  for (const i of images) {
    blobs.set(i.descriptor.digest, i.descriptor.size);
    if (!blobs.has(i.manifestDigest)) blobs.set(i.manifestDigest, undefined);
    blobs.set(i.manifest.config.digest, i.manifest.config.size);
    for (const l of i.manifest.layers) blobs.set(l.digest, l.size);
  }
  await tar.addBytes('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  await tar.addBytes(
    'index.json',
    Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: indexDescriptors }),
    ),
  );
  await tar.addBytes('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
  await tar.addDirectory('blobs');
  await tar.addDirectory('blobs/sha256');
  await writeBlobs(tar, store, [...blobs]);
}

/** The blobs in order: small ones copied into the writer's buffer, large ones streamed. */
async function writeBlobs(tar: TarWriter, store: LayoutStore, blobs: [string, number | undefined][]) {
  for (const [digest, size] of blobs) {
    try {
      // A platform manifest's size is not at hand: it is a small document, of the file's size.
      if (size === undefined || size <= SMALL_BLOB_BYTES)
        await tar.addSmallFile(blobName(digest), store.blobPath(digest), size);
      else await tar.addStream(blobName(digest), size, store.openBlob(digest));
    } catch (err) {
      // Writing failures are UserErrors naming the archive; what is left is reading the layout.
      if (err instanceof UserError) throw err;
      throw new UserError(
        `layout ${store.dir}: blob ${digest} is damaged or went missing (${(err as Error).message})`,
        { code: 'layout', blob: digest, cause: err },
      );
    }
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
