import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/documents.js';
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
import { errorMessage, UserError } from '../util/errors.js';
import { Limiter } from '../util/limit.js';
import { formatBytes, type Logger } from '../util/log.js';
import { Progress } from './progress.js';

export interface PullOptions {
  platform: Platform;
  layoutDir: string;
  client: RegistryClient;
  logger: Logger;
  /** Blobs downloaded at once, across all images (default 8). */
  concurrency?: number;
  /** Re-hash blobs already in the layout instead of trusting their names and sizes. */
  verify?: boolean;
  /** Top-level digests already resolved (for the cache key), so tags are not asked for twice. */
  resolved?: Map<string, string>;
  /** How often a long download logs an overall progress line (default 10 s). */
  progressIntervalMs?: number;
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
  /** downloadedBytes and the blob counts here count each blob once. */
  totals: {
    images: number;
    size: number;
    downloadedBytes: number;
    blobsFromLayout: number;
    blobsFromRegistry: number;
    /** Blobs removed from the layout because no requested image needs them any more. */
    garbageBlobs: number;
    garbageBytes: number;
  };
}

/** What phase 1 learns of an image: everything but its layers' bytes. */
interface ImagePlan {
  ref: ImageReference;
  /** index.json descriptor: the top-level document as the registry served it. */
  descriptor: Descriptor;
  platformDigest: string;
  /** Size of the platform manifest. */
  platformSize: number;
  platform: Platform;
  manifest: ImageManifest;
  config: ImageConfig;
  /** Digests of the documents this image needs: top-level, platform manifest, config. */
  documents: string[];
}

/**
 * Pulls references for one platform into an OCI layout, in three phases: resolve every image
 * to its platform manifest and config; download every missing layer of every image through one
 * scheduler (each blob once, biggest first); then rewrite index.json to exactly the requested
 * references and remove blobs nothing needs. Blobs already in the layout are not fetched, so a
 * run killed at any point is completed by the next without downloading finished blobs again.
 */
export async function pullImages(references: string[], options: PullOptions): Promise<PullReport> {
  const platform = normalizePlatform(options.platform);
  const refs = [...new Set(references)].map((r) => parseReference(r));
  const store = await LayoutStore.open(options.layoutDir, { create: true });
  await store.removeAbandonedTemporaries();
  const { client, logger } = options;
  const limiter = new Limiter(options.concurrency ?? 8);
  /** Where each blob of this run came from, and bytes fetched, so shared blobs count once. */
  const sources = new Map<string, BlobSource>();
  const downloaded = new Map<string, number>();
  /** One presence check (and, with verify, one re-hash) per blob per run. */
  const present = new Map<string, Promise<boolean>>();
  const isPresent = (desc: Pick<Descriptor, 'digest' | 'size'>) => {
    let p = present.get(desc.digest);
    if (!p) {
      p = options.verify ? store.verifyBlob(desc) : store.hasBlob(desc);
      present.set(desc.digest, p);
    }
    return p;
  };
  let failed = false;

  const download = async (ref: ImageReference, desc: Descriptor, progress?: Progress) => {
    if (failed) return;
    const writer = await store.createBlobWriter(desc);
    const sink = progress ? progress.track(writer) : writer;
    try {
      await client.downloadBlob(ref, desc.digest, sink);
      await writer.commit();
    } catch (err) {
      await writer.abort();
      if (err instanceof BlobMismatchError) {
        throw new UserError(
          `${client.where(ref)}: blob ${desc.digest} is corrupt (${err.message}); nothing was stored: try again, and if it persists the registry or a proxy is damaging it`,
          { image: ref.original },
        );
      }
      if (err instanceof UserError) throw err.forImage(ref.original);
      throw err;
    }
    sources.set(desc.digest, 'registry');
    downloaded.set(desc.digest, desc.size);
  };

  /** A manifest or config from the layout when present, else from the registry (then stored). */
  const documentBytes = async (
    ref: ImageReference,
    desc: { digest: string; size?: number; mediaType?: string },
  ) => {
    // A pinned reference's size is unknown until read; a stored blob was verified when written.
    const size = desc.size ?? (await store.blobSize(desc.digest));
    if (size !== undefined && (await isPresent({ digest: desc.digest, size }))) {
      sources.set(desc.digest, sources.get(desc.digest) ?? 'layout');
      return { bytes: await store.readBlob(desc.digest), mediaType: desc.mediaType };
    }
    const m = await limiter.run(() => client.fetchManifest(ref, desc.digest));
    await store.putBytes(m.digest, m.bytes);
    sources.set(m.digest, 'registry');
    downloaded.set(m.digest, m.bytes.length);
    present.set(m.digest, Promise.resolve(true));
    return { bytes: m.bytes, mediaType: m.mediaType || desc.mediaType };
  };

  const plan = async (ref: ImageReference): Promise<ImagePlan> => {
    const where = client.where(ref);
    try {
      // A pinned reference needs no tag lookup: the digest wins over the tag.
      const known = ref.digest ?? options.resolved?.get(ref.original);
      const top = known ? { digest: known } : await limiter.run(() => client.resolveTag(ref));
      const topRead = await documentBytes(ref, top);
      const topDoc = parseManifest(topRead.bytes, topRead.mediaType);
      let manifest: ImageManifest;
      let platformDigest = top.digest;
      let platformSize = topRead.bytes.length;
      if (topDoc.kind === 'index') {
        const chosen = selectPlatform(topDoc.document.manifests, platform);
        if (!chosen) {
          const offered = availablePlatforms(topDoc.document.manifests);
          throw new UserError(
            `${where} has no ${formatPlatform(platform)} variant; it offers ${offered.length ? offered.join(', ') : 'no platforms'}: choose one of those with --platform, or another image`,
          );
        }
        const read = await documentBytes(ref, chosen);
        const doc = parseManifest(read.bytes, read.mediaType ?? chosen.mediaType);
        if (doc.kind !== 'manifest')
          throw new UserError(`${where}: ${chosen.digest} is a nested index, which is not supported`);
        manifest = doc.document;
        platformDigest = chosen.digest;
        platformSize = read.bytes.length;
      } else {
        manifest = topDoc.document;
      }
      if (!(await isPresent(manifest.config))) {
        await limiter.run(() => download(ref, manifest.config));
        present.set(manifest.config.digest, Promise.resolve(true));
      } else sources.set(manifest.config.digest, sources.get(manifest.config.digest) ?? 'layout');
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
      return {
        ref,
        descriptor: {
          mediaType: topDoc.mediaType,
          digest: top.digest,
          size: topRead.bytes.length,
          annotations: {
            [Annotation.ContainerdImageName]: normalizedReference(ref),
            [Annotation.RefName]: ref.original,
          },
        },
        platformDigest,
        platformSize,
        platform: imagePlatform,
        manifest,
        config,
        documents: [...new Set([top.digest, platformDigest, manifest.config.digest])],
      };
    } catch (err) {
      if (err instanceof DocumentError)
        throw new UserError(`${where}: ${err.message}`, { image: ref.original });
      if (err instanceof UserError) throw err.forImage(ref.original);
      throw err;
    }
  };

  // Phase 1: every image's documents. All failures are reported, not just the first.
  const settled = await Promise.allSettled(refs.map(plan));
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failures.length) {
    for (const f of failures.slice(1)) logger.warn(errorMessage(f.reason));
    throw failures[0]?.reason;
  }
  const plans = settled.map((s) => (s as PromiseFulfilledResult<ImagePlan>).value);

  // Phase 2: every missing layer of every image, each once, biggest first.
  const layers = new Map<string, { ref: ImageReference; desc: Descriptor }>();
  for (const p of plans)
    for (const l of p.manifest.layers)
      if (!layers.has(l.digest)) layers.set(l.digest, { ref: p.ref, desc: l });
  const missing: { ref: ImageReference; desc: Descriptor }[] = [];
  for (const layer of layers.values()) {
    if (await isPresent(layer.desc)) sources.set(layer.desc.digest, 'layout');
    else missing.push(layer);
  }
  missing.sort((a, b) => b.desc.size - a.desc.size);

  // A line per image as soon as its last missing layer is in.
  const outstanding = new Map(plans.map((p) => [p, new Set(p.manifest.layers.map((l) => l.digest))]));
  const settle = (digest?: string) => {
    for (const [p, left] of outstanding) {
      if (digest) left.delete(digest);
      else for (const d of [...left]) if (sources.get(d) === 'layout') left.delete(d);
      if (left.size === 0) {
        outstanding.delete(p);
        announce(imageResult(p, sources, downloaded), logger);
      }
    }
  };
  settle();
  const progress = new Progress(
    missing.reduce((n, l) => n + l.desc.size, 0),
    missing.length,
    logger,
    options.progressIntervalMs ?? 10_000,
  );
  try {
    await Promise.all(
      missing.map((l) =>
        limiter
          .run(() => download(l.ref, l.desc, progress))
          .then(() => {
            progress.blobDone();
            settle(l.desc.digest);
          })
          .catch((err: unknown) => {
            failed = true;
            throw err;
          }),
      ),
    );
  } finally {
    progress.stop();
  }

  // Phase 3: index.json, garbage collection, report.
  await store.writeIndex(plans.map((p) => p.descriptor));
  const keep = new Set(plans.flatMap((p) => [...p.documents, ...p.manifest.layers.map((l) => l.digest)]));
  const garbage = await store.removeBlobsExcept(keep);
  if (garbage.blobs)
    logger.info(`removed ${garbage.blobs} blobs (${formatBytes(garbage.bytes)}) no requested image needs`);

  const images = plans.map((p) => imageResult(p, sources, downloaded));
  const counts = [...keep].map((d) => sources.get(d));
  return {
    platform: formatPlatform(platform),
    layout: options.layoutDir,
    images,
    totals: {
      images: images.length,
      size: images.reduce((n, i) => n + i.size, 0),
      downloadedBytes: [...downloaded.values()].reduce((n, b) => n + b, 0),
      blobsFromLayout: counts.filter((s) => s === 'layout').length,
      blobsFromRegistry: counts.filter((s) => s === 'registry').length,
      garbageBlobs: garbage.blobs,
      garbageBytes: garbage.bytes,
    },
  };
}

function imageResult(
  p: ImagePlan,
  sources: Map<string, BlobSource>,
  downloaded: Map<string, number>,
): PulledImage {
  const digests = [...new Set([...p.documents, ...p.manifest.layers.map((l) => l.digest)])];
  const fromRegistry = digests.filter((d) => sources.get(d) === 'registry');
  const size = p.platformSize + p.manifest.config.size + p.manifest.layers.reduce((n, l) => n + l.size, 0);
  return {
    reference: p.ref.original,
    digest: p.descriptor.digest,
    platformDigest: p.platformDigest,
    platform: formatPlatform(p.platform),
    size,
    source: fromRegistry.length ? 'registry' : 'layout',
    blobs: { fromLayout: digests.length - fromRegistry.length, fromRegistry: fromRegistry.length },
    downloadedBytes: fromRegistry.reduce((n, d) => n + (downloaded.get(d) ?? 0), 0),
  };
}

function announce(i: PulledImage, logger: Logger): void {
  logger.info(
    `${i.reference}: ${formatBytes(i.size)} (${shortDigest(i.platformDigest)}), ` +
      (i.blobs.fromRegistry
        ? `${i.blobs.fromRegistry} blobs downloaded (${formatBytes(i.downloadedBytes)}), `
        : '') +
      `${i.blobs.fromLayout} from the layout`,
  );
}
