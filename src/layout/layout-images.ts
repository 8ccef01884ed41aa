import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/documents.js';
import { Annotation } from '../oci/media-types.js';
import { resolveImage, type ResolvedImage } from '../oci/resolve-image.js';
import { parseReference, type ImageReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import { Limiter } from '../util/limit.js';
import { LayoutSource, type LayoutReader } from './layout-source.js';

export type { LayoutReader };

/** One image of a layout, resolved down to the platform manifest whose blobs the layout holds. */
export interface LayoutImage {
  /** The reference as the pallet or user wrote it (`org.opencontainers.image.ref.name`). */
  reference: string;
  /** The index.json descriptor: the top-level index or manifest as the registry served it. */
  descriptor: Descriptor;
  manifestDigest: string;
  /** The platform manifest's size in bytes. */
  manifestSize: number;
  manifest: ImageManifest;
  config: ImageConfig;
  platform: Platform;
}

/**
 * Reads every image listed in the layout's index.json, through the same walk as the pull
 * (`resolveImage`). For a multi-platform index, the platform is the one whose manifest the
 * layout holds (a layout is pulled for one platform); every layer must be there.
 */
export async function readLayoutImages(store: LayoutReader): Promise<LayoutImage[]> {
  const source = new LayoutSource(store);
  const index = await store.readIndex();
  // Images are read several at once: each costs a dozen small file-system calls, and waiting
  // for them one by one made this most of the time of writing an archive of small images.
  const limiter = new Limiter(16);
  const read = await Promise.allSettled(
    index.manifests.map((d) => limiter.run(() => readLayoutImage(source, d))),
  );
  const failed = read.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return read.map((r) => (r as PromiseFulfilledResult<LayoutImage>).value);
}

async function readLayoutImage(source: LayoutSource, descriptor: Descriptor): Promise<LayoutImage> {
  const reference = descriptor.annotations?.[Annotation.RefName] ?? descriptor.digest;
  const image = await resolveImage(source, layoutReference(reference, descriptor), 'held', descriptor);
  const present = await Promise.all(image.manifest.layers.map((l) => source.has(l)));
  const missing = image.manifest.layers.find((_, i) => !present[i]);
  if (missing) {
    throw new UserError(`${source.describe()}, image ${reference}: layer ${missing.digest} is missing`, {
      code: 'layout',
      image: reference,
      blob: missing.digest,
    });
  }
  return asLayoutImage(image, reference, descriptor);
}

/** A resolved image as the layout holds it under index.json's entry `descriptor`. */
export function asLayoutImage(image: ResolvedImage, reference: string, descriptor: Descriptor): LayoutImage {
  return {
    reference,
    descriptor,
    manifestDigest: image.platformManifest.digest,
    manifestSize: image.platformManifest.size,
    manifest: image.manifest,
    config: image.config,
    platform: image.platform,
  };
}

/** The reference an index entry names; an entry without a usable name is known by its digest. */
function layoutReference(name: string, descriptor: Descriptor): ImageReference {
  try {
    return parseReference(name);
  } catch {
    return { original: name, domain: 'layout', path: name, digest: descriptor.digest };
  }
}
