import type { Descriptor, DockerArchiveEntry } from '../oci/documents.js';
import { digestHex } from '../oci/digest.js';
import { Annotation, MediaType } from '../oci/media-types.js';
import type { LayoutImage } from '../layout/layout-images.js';
import type { LayoutStore } from '../layout/layout-store.js';
import { familiarTag, parseReference } from '../references/reference.js';
import type { Logger } from '../util/log.js';
import { TarWriter } from './tar-writer.js';

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
  if (options.layerCompression !== 'keep') {
    throw new Error('layer-compression none is not implemented yet');
  }
  const entries = planEntries(images, options.logger);
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
  const blobs = new Map<string, number>();
  for (const i of images) {
    blobs.set(i.descriptor.digest, i.descriptor.size);
    blobs.set(i.manifestDigest, (await store.blobSize(i.manifestDigest)) ?? 0);
    blobs.set(i.manifest.config.digest, i.manifest.config.size);
    for (const l of i.manifest.layers) blobs.set(l.digest, l.size);
  }

  const tar = await TarWriter.create(path);
  let size = 0;
  try {
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
    for (const [digest, blobSize] of blobs) {
      await tar.addStream(blobName(digest), blobSize, store.openBlob(digest));
      size += blobSize;
    }
    await tar.finish();
  } catch (err) {
    await tar.abort();
    throw err;
  }
  return { path, size };
}
