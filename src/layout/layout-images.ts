import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../oci/documents.js';
import { Annotation } from '../oci/media-types.js';
import { DocumentError, parseConfig, parseManifest } from '../oci/parse.js';
import { formatPlatform, isAttestation, normalizePlatform } from '../oci/platform.js';
import { UserError } from '../util/errors.js';
import { Limiter } from '../util/limit.js';
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

/** What reading a layout's images needs of a store (the archive writer reads without waiting). */
export type LayoutReader = Pick<LayoutStore, 'dir' | 'readIndex' | 'hasBlob' | 'readBlob'>;

/**
 * Reads every image listed in the layout's index.json. For a multi-platform index, the
 * platform is the one whose manifest the layout holds (a layout is pulled for one platform).
 */
export async function readLayoutImages(store: LayoutReader): Promise<LayoutImage[]> {
  const index = await store.readIndex();
  // Images are read several at once: each costs a dozen small file-system calls, and waiting
  // for them one by one made this most of the time of writing an archive of small images.
  const limiter = new Limiter(16);
  const read = await Promise.allSettled(
    index.manifests.map((d) => limiter.run(() => readLayoutImage(store, d))),
  );
  const failed = read.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return read.map((r) => (r as PromiseFulfilledResult<LayoutImage>).value);
}

async function readLayoutImage(store: LayoutReader, descriptor: Descriptor): Promise<LayoutImage> {
  const reference = descriptor.annotations?.[Annotation.RefName] ?? descriptor.digest;
  const fail = (why: string) =>
    new UserError(
      `layout ${store.dir}, image ${reference}: ${why}; run cache-images pull again to complete the layout`,
    );
  if (!(await store.hasBlob(descriptor))) throw fail(`blob ${descriptor.digest} is missing`);
  let manifestDigest = descriptor.digest;
  try {
    let doc = parseManifest(await store.readBlob(descriptor.digest), descriptor.mediaType);
    if (doc.kind === 'index') {
      const present: Descriptor[] = [];
      for (const child of doc.document.manifests) {
        if (!isAttestation(child) && (await store.hasBlob(child))) present.push(child);
      }
      if (present.length === 0) throw fail('no platform manifest of its index is in the layout');
      if (present.length > 1) {
        const names = present.map((d) => (d.platform ? formatPlatform(d.platform) : d.digest)).join(', ');
        throw fail(`the layout holds several platforms (${names}); a layout holds one platform`);
      }
      manifestDigest = (present[0] as Descriptor).digest;
      doc = parseManifest(await store.readBlob(manifestDigest), (present[0] as Descriptor).mediaType);
      if (doc.kind !== 'manifest') throw fail(`${manifestDigest} is a nested index, which is not supported`);
    }
    const manifest = doc.document;
    if (!(await store.hasBlob(manifest.config))) throw fail(`config ${manifest.config.digest} is missing`);
    const config = parseConfig(await store.readBlob(manifest.config.digest));
    const present = await Promise.all(manifest.layers.map((l) => store.hasBlob(l)));
    const missing = manifest.layers.find((_, i) => !present[i]);
    if (missing) throw fail(`layer ${missing.digest} is missing`);
    const platform = normalizePlatform({
      os: config.os,
      architecture: config.architecture,
      variant: config.variant,
    });
    return { reference, descriptor, manifestDigest, manifest, config, platform };
  } catch (err) {
    if (err instanceof DocumentError) throw fail(err.message);
    throw err;
  }
}
