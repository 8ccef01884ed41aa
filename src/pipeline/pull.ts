import type { Descriptor, ImageManifest, Platform } from '../oci/documents.js';
import { shortDigest } from '../oci/digest.js';
import { Annotation } from '../oci/media-types.js';
import { DocumentError, parseConfig, parseManifest } from '../oci/parse.js';
import {
  availablePlatforms,
  formatPlatform,
  normalizePlatform,
  platformsEqual,
  selectPlatform,
} from '../oci/platform.js';
import { BlobMismatchError, LayoutStore } from '../layout/layout-store.js';
import { normalizedReference, parseReference, type ImageReference } from '../references/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { UserError } from '../util/errors.js';
import { Limiter } from '../util/limit.js';
import { formatBytes, type Logger } from '../util/log.js';

export interface PullOptions {
  platform: Platform;
  layoutDir: string;
  client: RegistryClient;
  logger: Logger;
  /** Blobs downloaded at once, across all images (default 8). */
  concurrency?: number;
}

export type BlobSource = 'layout' | 'registry';

export interface PulledImage {
  reference: string;
  /** Digest of the top-level index or manifest the reference resolved to. */
  digest: string;
  /** Digest of the manifest of the chosen platform. */
  platformDigest: string;
  platform: string;
  /** Bytes of the platform manifest, config and layers. */
  size: number;
  /** `layout` when every blob was already there, `registry` when any was downloaded. */
  source: BlobSource;
  blobs: { fromLayout: number; fromRegistry: number };
  /** Bytes of this image's blobs fetched in this run (a blob shared with another image counts for both). */
  downloadedBytes: number;
}

export interface PullReport {
  platform: string;
  layout: string;
  images: PulledImage[];
  /** downloadedBytes here counts each blob once. */
  totals: {
    images: number;
    size: number;
    downloadedBytes: number;
    blobsFromLayout: number;
    blobsFromRegistry: number;
  };
}

interface Counted {
  source: BlobSource;
  bytes: number;
}

/**
 * Pulls references for one platform into an OCI layout. Blobs already in the layout are used
 * as they are; a blob several images share is downloaded once. index.json ends up listing
 * exactly the requested references, each pointing at its original top-level document.
 */
export async function pullImages(references: string[], options: PullOptions): Promise<PullReport> {
  const platform = normalizePlatform(options.platform);
  const refs = unique(references).map((r) => parseReference(r));
  const store = await LayoutStore.open(options.layoutDir, { create: true });
  const limiter = new Limiter(options.concurrency ?? 8);
  const inflight = new Map<string, Promise<Counted>>();
  /** Bytes fetched from registries in this run, per digest, so shared blobs count once in totals. */
  const downloaded = new Map<string, number>();
  const { client, logger } = options;

  /** Ensures a blob is in the layout; concurrent requests for one digest share one download. */
  const ensureBlob = (ref: ImageReference, desc: Descriptor): Promise<Counted> => {
    let p = inflight.get(desc.digest);
    if (!p) {
      p = (async (): Promise<Counted> => {
        if (await store.hasBlob(desc)) return { source: 'layout', bytes: 0 };
        return limiter.run(async () => {
          const writer = await store.createBlobWriter(desc);
          try {
            await client.downloadBlob(ref, desc.digest, writer);
            await writer.commit();
            downloaded.set(desc.digest, desc.size);
          } catch (err) {
            await writer.abort();
            if (err instanceof BlobMismatchError) {
              throw new UserError(
                `${client.where(ref)}: blob ${desc.digest} is corrupt: ${err.message}; nothing was stored, try again`,
              );
            }
            throw err;
          }
          return { source: 'registry', bytes: desc.size };
        });
      })();
      inflight.set(desc.digest, p);
    }
    return p;
  };

  /** A manifest from the layout when present, else from the registry (then stored). */
  const manifestBytes = async (
    ref: ImageReference,
    desc: { digest: string; size?: number; mediaType?: string },
  ) => {
    const stored = await store.blobSize(desc.digest);
    // A pinned reference's size is unknown until read; a stored blob was verified when written.
    if (stored !== undefined && (desc.size === undefined || desc.size === stored)) {
      return {
        bytes: await store.readBlob(desc.digest),
        mediaType: desc.mediaType,
        source: 'layout' as const,
      };
    }
    const m = await client.fetchManifest(ref, desc.digest);
    await store.putBytes(m.digest, m.bytes);
    downloaded.set(m.digest, m.bytes.length);
    return { bytes: m.bytes, mediaType: m.mediaType || desc.mediaType, source: 'registry' as const };
  };

  const pullOne = async (ref: ImageReference): Promise<{ image: PulledImage; descriptor: Descriptor }> => {
    const where = client.where(ref);
    try {
      // A pinned reference needs no tag lookup: the digest wins over the tag.
      const top = ref.digest ? { digest: ref.digest } : await client.resolveTag(ref);
      const topRead = await manifestBytes(ref, top);
      const topDoc = parseManifest(topRead.bytes, topRead.mediaType);
      const counts = { fromLayout: 0, fromRegistry: 0, downloaded: 0 };
      const count = (source: BlobSource, bytes: number) => {
        if (source === 'layout') counts.fromLayout++;
        else counts.fromRegistry++;
        counts.downloaded += bytes;
      };
      count(topRead.source, topRead.source === 'registry' ? topRead.bytes.length : 0);

      let manifest: ImageManifest;
      let platformDesc: Descriptor;
      if (topDoc.kind === 'index') {
        const chosen = selectPlatform(topDoc.document.manifests, platform);
        if (!chosen) {
          const offered = availablePlatforms(topDoc.document.manifests);
          throw new UserError(
            `${where} has no ${formatPlatform(platform)} variant; it offers ${offered.length ? offered.join(', ') : 'no platforms'}: choose one of those with --platform, or another image`,
          );
        }
        const read = await manifestBytes(ref, chosen);
        count(read.source, read.source === 'registry' ? read.bytes.length : 0);
        const doc = parseManifest(read.bytes, read.mediaType ?? chosen.mediaType);
        if (doc.kind !== 'manifest')
          throw new UserError(`${where}: ${chosen.digest} is a nested index, which is not supported`);
        manifest = doc.document;
        platformDesc = { mediaType: doc.mediaType, digest: chosen.digest, size: read.bytes.length };
      } else {
        manifest = topDoc.document;
        platformDesc = { mediaType: topDoc.mediaType, digest: top.digest, size: topRead.bytes.length };
      }

      count(...tuple(await ensureBlob(ref, manifest.config)));
      const config = parseConfig(await store.readBlob(manifest.config.digest));
      const imagePlatform = normalizePlatform({
        os: config.os,
        architecture: config.architecture,
        variant: config.variant,
      });
      if (topDoc.kind === 'manifest' && !platformsEqual(imagePlatform, platform)) {
        throw new UserError(
          `${where} is a single-platform image for ${formatPlatform(imagePlatform)}, not ${formatPlatform(platform)}: use an image built for ${formatPlatform(platform)}`,
        );
      }
      if (config.rootfs.diff_ids.length !== manifest.layers.length) {
        throw new UserError(
          `${where}: the manifest lists ${manifest.layers.length} layers but the config ${config.rootfs.diff_ids.length} diff_ids; the image is broken`,
        );
      }
      for (const result of await Promise.all(manifest.layers.map((l) => ensureBlob(ref, l))))
        count(...tuple(result));

      const size = platformDesc.size + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
      const image: PulledImage = {
        reference: ref.original,
        digest: top.digest,
        platformDigest: platformDesc.digest,
        platform: formatPlatform(imagePlatform),
        size,
        source: counts.fromRegistry > 0 ? 'registry' : 'layout',
        blobs: { fromLayout: counts.fromLayout, fromRegistry: counts.fromRegistry },
        downloadedBytes: counts.downloaded,
      };
      logger.info(
        `${ref.original}: ${formatBytes(size)} (${shortDigest(platformDesc.digest)}), ` +
          (counts.fromRegistry
            ? `${counts.fromRegistry} blobs downloaded (${formatBytes(counts.downloaded)}), `
            : '') +
          `${counts.fromLayout} from the layout`,
      );
      const descriptor: Descriptor = {
        mediaType: topDoc.mediaType,
        digest: top.digest,
        size: topRead.bytes.length,
        annotations: {
          [Annotation.ContainerdImageName]: normalizedReference(ref),
          [Annotation.RefName]: ref.original,
        },
      };
      return { image, descriptor };
    } catch (err) {
      if (err instanceof DocumentError) throw new UserError(`${where}: ${err.message}`);
      throw err;
    }
  };

  const results = await Promise.all(refs.map(pullOne));
  await store.writeIndex(results.map((r) => r.descriptor));
  const images = results.map((r) => r.image);
  return {
    platform: formatPlatform(platform),
    layout: options.layoutDir,
    images,
    totals: {
      images: images.length,
      size: images.reduce((n, i) => n + i.size, 0),
      downloadedBytes: [...downloaded.values()].reduce((n, b) => n + b, 0),
      blobsFromLayout: images.reduce((n, i) => n + i.blobs.fromLayout, 0),
      blobsFromRegistry: images.reduce((n, i) => n + i.blobs.fromRegistry, 0),
    },
  };
}

function tuple(c: Counted): [BlobSource, number] {
  return [c.source, c.bytes];
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
