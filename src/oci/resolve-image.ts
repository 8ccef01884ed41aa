import type { ImageReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import type { ContentSource, DocumentRef } from './content-source.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from './documents.js';
import { DocumentError, parseConfig, parseManifest } from './parse.js';
import {
  availablePlatforms,
  formatPlatform,
  isAttestation,
  normalizePlatform,
  platformsEqual,
  selectPlatform,
} from './platform.js';

/** One image resolved down to the manifest of one platform and its config. */
export interface ResolvedImage {
  ref: ImageReference;
  /** The top-level document (index or manifest) as the source served it: index.json's entry. */
  top: Descriptor;
  /** The platform's manifest (the same as `top` for a single-platform image). */
  platformManifest: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  /** The image's platform, from its config. */
  platform: Platform;
  /** Digests of the documents it needs: top-level, platform manifest, config (each once). */
  documents: string[];
}

/**
 * Which manifest of an index to take: a platform, or `held`, the one manifest the source holds
 * (a layout is pulled for one platform, and `archive` is not told which).
 */
export type PlatformChoice = Platform | 'held';

/**
 * Walks a reference from its top-level document to the manifest of the chosen platform and
 * its config, through any content source. `known` is the top-level document already resolved
 * (for the cache key), so a tag is not asked for twice.
 */
export async function resolveImage(
  source: ContentSource,
  ref: ImageReference,
  choice: PlatformChoice,
  known?: DocumentRef,
): Promise<ResolvedImage> {
  const where = `image ${ref.original} (${source.describe(ref)})`;
  const facts = { image: ref.original, registry: ref.domain };
  try {
    const topRef = known ?? (await source.resolve(ref));
    const topRead = await source.manifest(ref, topRef);
    const topDoc = parseManifest(topRead.bytes, topRead.mediaType || topRef.mediaType);
    const top: Descriptor = {
      mediaType: topDoc.mediaType,
      digest: topRead.digest,
      size: topRead.bytes.length,
    };
    let platformManifest = top;
    let manifestDoc = topDoc;
    if (topDoc.kind === 'index') {
      const chosen = await chooseManifest(source, topDoc.document.manifests, choice, where, facts);
      const read = await source.manifest(ref, chosen);
      manifestDoc = parseManifest(read.bytes, read.mediaType || chosen.mediaType);
      if (manifestDoc.kind !== 'manifest') {
        throw new UserError(`${where}: ${chosen.digest} is a nested index, which is not supported`, {
          ...facts,
          code: 'unsupported',
        });
      }
      platformManifest = { mediaType: manifestDoc.mediaType, digest: read.digest, size: read.bytes.length };
    }
    const manifest = manifestDoc.document as ImageManifest;
    const config = parseConfig(await source.blob(ref, manifest.config));
    const platform = normalizePlatform({
      os: config.os,
      architecture: config.architecture,
      variant: config.variant,
    });
    if (topDoc.kind === 'manifest' && choice !== 'held' && !platformsEqual(platform, choice)) {
      throw new UserError(
        `${where} is a single-platform image for ${formatPlatform(platform)}, not ${formatPlatform(choice)}`,
        { ...facts, code: 'no-platform' },
      );
    }
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new UserError(
        `${where}: the manifest lists ${manifest.layers.length} layers but the config ${config.rootfs.diff_ids.length} diff_ids; the image is broken`,
        { ...facts, code: 'malformed' },
      );
    }
    const documents = [...new Set([top.digest, platformManifest.digest, manifest.config.digest])];
    return { ref, top, platformManifest, manifest, config, platform, documents };
  } catch (err) {
    // A parser's complaint lacks the image; one from a source names it already.
    if (err instanceof DocumentError && !err.image) throw err.with(facts, `${where}: ${err.message}`);
    if (err instanceof UserError) throw err.forImage(ref.original);
    throw err;
  }
}

async function chooseManifest(
  source: ContentSource,
  manifests: Descriptor[],
  choice: PlatformChoice,
  where: string,
  facts: { image: string; registry: string },
): Promise<Descriptor> {
  if (choice !== 'held') {
    const chosen = selectPlatform(manifests, choice);
    if (chosen) return chosen;
    const offered = availablePlatforms(manifests);
    throw new UserError(
      `${where} has no ${formatPlatform(choice)} variant; it offers ${offered.length ? offered.join(', ') : 'no platforms'}`,
      { ...facts, code: 'no-platform' },
    );
  }
  const held: Descriptor[] = [];
  for (const child of manifests) {
    if (!isAttestation(child) && (await source.has?.(child))) held.push(child);
  }
  if (held.length === 1) return held[0] as Descriptor;
  if (held.length === 0) {
    throw new UserError(`${where}: no platform manifest of its index is there`, { ...facts, code: 'layout' });
  }
  const names = held.map((d) => (d.platform ? formatPlatform(d.platform) : d.digest)).join(', ');
  throw new UserError(`${where}: several platforms are there (${names}); a layout holds one platform`, {
    ...facts,
    code: 'layout',
  });
}
