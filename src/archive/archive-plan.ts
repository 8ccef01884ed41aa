import type { Descriptor, DockerArchiveEntry } from '../oci/documents.js';
import { digestHex } from '../oci/digest.js';
import { Annotation, MediaType } from '../oci/media-types.js';
import type { LayoutImage } from '../layout/layout-images.js';
import { familiarTag, parseReference } from '../references/reference.js';
import type { Logger } from '../util/log.js';
import { BLOCK, entryHeader, padding } from './tar-headers.js';

/** Images sharing one platform manifest become one manifest.json entry with all their tags. */
export interface ArchiveEntry {
  images: LayoutImage[];
  repoTags: string[];
}

/**
 * One entry of a planned archive, in archive order: its bytes at hand, or a blob of the layout
 * of known size. Every entry's place in the archive follows from the plan alone, so an archive
 * can be written from the layout afterwards or filled in while its blobs download.
 */
export type PlannedEntry =
  | { kind: 'directory'; name: string }
  | { kind: 'bytes'; name: string; bytes: Uint8Array }
  | { kind: 'blob'; name: string; digest: string; size: number };

export const blobName = (digest: string) => `blobs/sha256/${digestHex(digest)}`;

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
 * The entries of an archive of the registry's bytes as they are: manifest.json for `docker
 * load`, plus oci-layout and an index.json pointing at the original top-level documents, so
 * loaders that keep digests resolve `name@sha256:...` references offline. Each blob once, in
 * first-use order: top-level document, platform manifest, config, layers.
 */
export function keepEntries(images: LayoutImage[], entries: ArchiveEntry[]): PlannedEntry[] {
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
  const blobs = new Map<string, number>();
  for (const i of images) {
    blobs.set(i.descriptor.digest, i.descriptor.size);
    blobs.set(i.manifestDigest, i.manifestSize);
    blobs.set(i.manifest.config.digest, i.manifest.config.size);
    for (const l of i.manifest.layers) blobs.set(l.digest, l.size);
  }
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  return [
    { kind: 'bytes', name: 'oci-layout', bytes: json({ imageLayoutVersion: '1.0.0' }) },
    {
      kind: 'bytes',
      name: 'index.json',
      bytes: json({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: indexDescriptors }),
    },
    { kind: 'bytes', name: 'manifest.json', bytes: json(manifestJson) },
    { kind: 'directory', name: 'blobs' },
    { kind: 'directory', name: 'blobs/sha256' },
    ...[...blobs].map(([digest, size]): PlannedEntry => ({
      kind: 'blob',
      name: blobName(digest),
      digest,
      size,
    })),
  ];
}

/** The bytes the archive of `plan` takes, exactly as the tar writer writes it. */
export function plannedSize(plan: PlannedEntry[]): number {
  let size = 2 * BLOCK;
  for (const entry of plan) {
    const data = entry.kind === 'directory' ? 0 : entry.kind === 'bytes' ? entry.bytes.length : entry.size;
    const header =
      entry.kind === 'directory'
        ? entryHeader({ path: `${entry.name}/`, type: 'Directory', mode: 0o755, size: 0 })
        : entryHeader({ path: entry.name, type: 'File', mode: 0o644, size: data });
    size += header.length + data + padding(data);
  }
  return size;
}
