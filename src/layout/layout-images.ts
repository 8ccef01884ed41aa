import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/documents.js';
import { Annotation } from '../oci/media-types.js';
import { resolveImage } from '../oci/resolve-image.js';
import { parseReference, type ImageReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import { LayoutSource } from './layout-source.js';
import type { LayoutStore } from './layout-store.js';

/** One image of a layout, resolved down to the platform manifest whose blobs the layout holds. */
export interface LayoutImage {
  /** The reference as the pallet or user wrote it (`org.opencontainers.image.ref.name`). */
  reference: string;
  /** The index.json descriptor: the top-level index or manifest as the registry served it. */
  descriptor: Descriptor;
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
  platform: Platform;
}

/**
 * Reads every image listed in the layout's index.json, through the same walk as the pull
 * (`resolveImage`). For a multi-platform index, the platform is the one whose manifest the
 * layout holds (a layout is pulled for one platform); every layer must be there.
 */
export async function readLayoutImages(store: LayoutStore): Promise<LayoutImage[]> {
  const source = new LayoutSource(store);
  const index = await store.readIndex();
  const images: LayoutImage[] = [];
  for (const descriptor of index.manifests) {
    const reference = descriptor.annotations?.[Annotation.RefName] ?? descriptor.digest;
    const image = await resolveImage(source, layoutReference(reference, descriptor), 'held', descriptor);
    for (const layer of image.manifest.layers) {
      if (!(await store.hasBlob(layer))) {
        throw new UserError(`layout ${store.dir}, image ${reference}: layer ${layer.digest} is missing`, {
          code: 'layout',
          image: reference,
          blob: layer.digest,
        });
      }
    }
    images.push({
      reference,
      descriptor,
      manifestDigest: image.platformManifest.digest,
      manifest: image.manifest,
      config: image.config,
      platform: image.platform,
    });
  }
  return images;
}

/** The reference an index entry names; an entry without a usable name is known by its digest. */
function layoutReference(name: string, descriptor: Descriptor): ImageReference {
  try {
    return parseReference(name);
  } catch {
    return { original: name, domain: 'layout', path: name, digest: descriptor.digest };
  }
}
