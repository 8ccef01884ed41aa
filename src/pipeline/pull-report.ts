import { shortDigest } from '../oci/digest.js';
import { formatPlatform } from '../oci/platform.js';
import type { ResolvedImage } from '../oci/resolve-image.js';
import { formatBytes } from '../util/log.js';
import type { BlobScheduler, BlobSource } from './blob-scheduler.js';

export type { BlobSource };

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
  /** The tag's digest came from the layout because its registry failed (see on-registry-error). */
  stale?: boolean;
  blobs: { fromLayout: number; fromRegistry: number };
  /** Bytes of this image's blobs fetched in this run (a blob shared with another image counts for both). */
  downloadedBytes: number;
}

export interface PullTotals {
  images: number;
  /** Bytes of every image, a blob shared by several counted for each. */
  size: number;
  /** Bytes of the distinct blobs the images need: what the layout holds. */
  uniqueBytes: number;
  downloadedBytes: number;
  blobsFromLayout: number;
  blobsFromRegistry: number;
  /** Blobs removed from the layout because no requested image needs them any more. */
  garbageBlobs: number;
  garbageBytes: number;
}

export interface PullReport {
  platform: string;
  layout: string;
  images: PulledImage[];
  /** downloadedBytes and the blob counts here count each blob once. */
  totals: PullTotals;
}

/** Every digest an image needs: documents and layers, each once. */
export function imageDigests(image: ResolvedImage): string[] {
  return [...new Set([...image.documents, ...image.manifest.layers.map((l) => l.digest)])];
}

/** Bytes of an image: platform manifest, config and layers. */
export function imageSize(image: ResolvedImage): number {
  const { manifest } = image;
  return image.platformManifest.size + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
}

export function imageResult(image: ResolvedImage, blobs: BlobScheduler, stale = false): PulledImage {
  const digests = imageDigests(image);
  const fromRegistry = digests.filter((d) => blobs.source(d) === 'registry');
  return {
    reference: image.ref.original,
    digest: image.top.digest,
    platformDigest: image.platformManifest.digest,
    platform: formatPlatform(image.platform),
    size: imageSize(image),
    source: fromRegistry.length ? 'registry' : 'layout',
    ...(stale ? { stale } : {}),
    blobs: { fromLayout: digests.length - fromRegistry.length, fromRegistry: fromRegistry.length },
    downloadedBytes: fromRegistry.reduce((n, d) => n + blobs.downloaded(d), 0),
  };
}

/** The totals of a pull: per image, and per distinct blob (a shared blob counts once). */
export function pullTotals(
  images: ResolvedImage[],
  results: PulledImage[],
  blobs: BlobScheduler,
  garbage: { blobs: number; bytes: number },
): PullTotals {
  const sizes = new Map<string, number>();
  for (const i of images) {
    sizes.set(i.top.digest, i.top.size);
    sizes.set(i.platformManifest.digest, i.platformManifest.size);
    sizes.set(i.manifest.config.digest, i.manifest.config.size);
    for (const l of i.manifest.layers) sizes.set(l.digest, l.size);
  }
  const sources = [...sizes.keys()].map((d) => blobs.source(d));
  return {
    images: results.length,
    size: results.reduce((n, i) => n + i.size, 0),
    uniqueBytes: [...sizes.values()].reduce((n, b) => n + b, 0),
    downloadedBytes: blobs.totalDownloaded,
    blobsFromLayout: sources.filter((s) => s === 'layout').length,
    blobsFromRegistry: sources.filter((s) => s === 'registry').length,
    garbageBlobs: garbage.blobs,
    garbageBytes: garbage.bytes,
  };
}

/** The line printed as an image's last blob lands. */
export function imageLine(i: PulledImage): string {
  const files = (n: number) => `${n} ${n === 1 ? 'blob' : 'blobs'}`;
  return (
    `${i.reference}: ${formatBytes(i.size)} (${shortDigest(i.platformDigest)}), ` +
    (i.blobs.fromRegistry
      ? `${files(i.blobs.fromRegistry)} downloaded (${formatBytes(i.downloadedBytes)}), `
      : '') +
    `${i.blobs.fromLayout} from the layout`
  );
}
