import type { Descriptor, Platform } from '../oci/documents.js';
import { Annotation } from '../oci/media-types.js';
import { formatPlatform, normalizePlatform } from '../oci/platform.js';
import { resolveImage, type ResolvedImage } from '../oci/resolve-image.js';
import { LayoutSource } from '../layout/layout-source.js';
import { asLayoutImage, type LayoutImage } from '../layout/layout-images.js';
import { LayoutStore, type BlobMirror } from '../layout/layout-store.js';
import { normalizedReference, parseReference } from '../references/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { RegistrySource } from '../registry/registry-source.js';
import { UserError } from '../util/errors.js';
import { formatBytes, type Logger } from '../util/log.js';
import { BlobScheduler, type BlobJob } from './blob-scheduler.js';
import { oneFailure } from './failures.js';
import { Progress } from './progress.js';
import { imageLine, imageResult, pullTotals, type PullReport } from './pull-report.js';
import { StoredSource } from './stored-source.js';

export type { BlobSource, PulledImage, PullReport } from './pull-report.js';

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
  /** References whose digest came from a cached layout because their registry failed. */
  stale?: Set<string>;
  /** Use only the layout: a blob it lacks is an error, never a download. */
  offline?: boolean;
  /** How often a long download logs an overall progress line (default 10 s). */
  progressIntervalMs?: number;
  /**
   * Called once the images are resolved, before any layer downloads, when some must (told
   * how many bytes): where else each downloaded blob's bytes go as they arrive (archives
   * written meanwhile).
   */
  mirror?: (
    images: LayoutImage[],
    downloadBytes: number,
  ) => Promise<((desc: Descriptor) => BlobMirror | undefined) | undefined>;
}

/**
 * Pulls references for one platform into an OCI layout, in three phases: resolve every image
 * to its platform manifest and config; download every missing layer of every image through one
 * scheduler (each blob once, biggest first); then rewrite index.json to exactly the requested
 * references and remove blobs nothing needs. Blobs already in the layout are not fetched, so a
 * run killed at any point is completed by the next without downloading finished blobs again.
 */
export async function pullImages(references: string[], options: PullOptions): Promise<PullReport> {
  const { logger } = options;
  const platform = normalizePlatform(options.platform);
  const store = await LayoutStore.open(options.layoutDir, { create: true });
  await store.removeAbandonedTemporaries();
  const blobs = new BlobScheduler(store, options.client, {
    concurrency: options.concurrency ?? 8,
    verify: options.verify,
  });
  const upstream = options.offline ? new LayoutSource(store) : new RegistrySource(options.client);
  const source = new StoredSource(upstream, store, blobs);

  const images = await resolveAll(references, source, platform, options);
  await fetchLayers(images, blobs, store, options);
  // Phase 3: index.json, garbage collection, report.
  await store.writeIndex(images.map(indexEntry));
  const keep = new Set(images.flatMap((i) => [...i.documents, ...i.manifest.layers.map((l) => l.digest)]));
  const garbage = await store.removeBlobsExcept(keep);
  if (garbage.blobs)
    logger.info(`removed ${garbage.blobs} blobs (${formatBytes(garbage.bytes)}) no requested image needs`);
  const results = images.map((i) => imageResult(i, blobs, options.stale?.has(i.ref.original)));
  return {
    platform: formatPlatform(platform),
    layout: options.layoutDir,
    images: results,
    totals: pullTotals(images, results, blobs, garbage),
  };
}

/** Phase 1: every image's documents. Every failure is reported, each cause once. */
async function resolveAll(
  references: string[],
  source: StoredSource,
  platform: Platform,
  options: PullOptions,
): Promise<ResolvedImage[]> {
  const unique = [...new Set(references)];
  const settled = await Promise.allSettled(
    unique.map((r) => {
      const ref = parseReference(r);
      const known = ref.digest ?? options.resolved?.get(r);
      return resolveImage(source, ref, platform, known ? { digest: known } : undefined);
    }),
  );
  const failures = settled.flatMap((s, i) =>
    s.status === 'rejected' ? [{ image: unique[i], error: s.reason as unknown }] : [],
  );
  if (failures.length) throw oneFailure(failures, options.logger);
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
}

/**
 * Phase 2: every missing layer of every image, each once, biggest first; what there is to do
 * said at once, then a line per image as soon as its last layer is in.
 */
async function fetchLayers(
  images: ResolvedImage[],
  blobs: BlobScheduler,
  store: LayoutStore,
  options: PullOptions,
): Promise<void> {
  const { logger } = options;
  const missing = await blobs.missing(
    images.flatMap((i) => i.manifest.layers.map((desc) => ({ ref: i.ref, desc }))),
  );
  if (options.offline && missing.length) throw offlineGap(store, missing);
  if (missing.length && options.mirror) {
    const mirrorFor = await options.mirror(
      images.map((i) => asLayoutImage(i, i.ref.original, indexEntry(i))),
      missing.reduce((n, m) => n + m.desc.size, 0),
    );
    if (mirrorFor) blobs.mirrorWith(mirrorFor);
  }
  logger.info(plan(images.length, missing));
  const announce = announcer(images, (i) =>
    logger.info(imageLine(imageResult(i, blobs, options.stale?.has(i.ref.original)))),
  );
  announce(missing.map((m) => m.desc.digest));
  const progress = new Progress(
    missing.reduce((n, l) => n + l.desc.size, 0),
    missing.length,
    logger,
    options.progressIntervalMs ?? 10_000,
  );
  try {
    await blobs.fetchAll(missing, progress, (digest) => announce([], digest));
  } finally {
    progress.stop();
  }
}

/** index.json's entry for an image: the top-level document as served, named both ways. */
function indexEntry(image: ResolvedImage) {
  return {
    ...image.top,
    annotations: {
      [Annotation.ContainerdImageName]: normalizedReference(image.ref),
      [Annotation.RefName]: image.ref.original,
    },
  };
}

/**
 * Calls `complete` once per image when none of its layers is outstanding. Start it with the
 * digests still to fetch; then tell it each digest that lands.
 */
function announcer(images: ResolvedImage[], complete: (image: ResolvedImage) => void) {
  let outstanding: Map<ResolvedImage, Set<string>> | undefined;
  return (pending: string[], landed?: string) => {
    if (!outstanding) {
      const wanted = new Set(pending);
      outstanding = new Map(
        images.map((i) => [i, new Set(i.manifest.layers.map((l) => l.digest).filter((d) => wanted.has(d)))]),
      );
    }
    for (const [image, left] of outstanding) {
      if (landed) left.delete(landed);
      if (left.size === 0) {
        outstanding.delete(image);
        complete(image);
      }
    }
  };
}

/** The first progress line, at once: what there is to do. */
function plan(images: number, missing: BlobJob[]): string {
  const bytes = missing.reduce((n, l) => n + l.desc.size, 0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return missing.length
    ? `${plural(images, 'image')}: ${plural(missing.length, 'layer')} to download (${formatBytes(bytes)})`
    : `${plural(images, 'image')}: every layer is in the layout`;
}

/** `--offline` with an incomplete layout: say what is missing rather than download it. */
function offlineGap(store: LayoutStore, missing: BlobJob[]): UserError {
  const images = [...new Set(missing.map((m) => m.ref.original))];
  return new UserError(
    `layout ${store.dir} lacks ${missing.length} layer${missing.length === 1 ? '' : 's'} of ${images.join(', ')}, and offline nothing is downloaded`,
    { code: 'layout', image: images[0] },
  );
}
