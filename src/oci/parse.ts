import { UserError, type ErrorCode } from '../util/errors.js';
import { digestAlgorithm, isDigest } from './digest.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, ManifestDocument } from './documents.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType } from './media-types.js';

/**
 * The most a document (index, manifest, config, an archive's manifest.json) may hold, wherever
 * it is read: registries cap manifests at 4 MiB (skopeo and containerd too), configs are a few
 * KiB; anything larger is not a document, and is never read into memory.
 */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/**
 * A document that is not what it should be, with the field at fault; the caller adds which
 * image and registry. A UserError so that a caller that does not know it still prints one line.
 */
export class DocumentError extends UserError {
  constructor(message: string, code: ErrorCode = 'malformed') {
    super(message, { code });
    this.name = 'DocumentError';
  }
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new DocumentError(`${what} is not valid JSON`);
  }
  if (!isObject(value)) throw new DocumentError(`${what} is not a JSON object`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Checks one descriptor, naming the field (`layers[2].size`) that is wrong. */
function checkDescriptor(value: unknown, field: string): void {
  if (!isObject(value)) throw new DocumentError(`${field} is ${typeName(value)}, not a descriptor`);
  if (typeof value.mediaType !== 'string')
    throw new DocumentError(`${field}.mediaType is ${typeName(value.mediaType)}, not a string`);
  if (typeof value.digest !== 'string')
    throw new DocumentError(`${field}.digest is ${typeName(value.digest)}, not a string`);
  if (!isDigest(value.digest)) {
    const algorithm = digestAlgorithm(value.digest);
    if (algorithm)
      throw new DocumentError(
        `${field}.digest uses the ${algorithm} algorithm, which is not supported (only sha256)`,
        'unsupported',
      );
    throw new DocumentError(`${field}.digest ${JSON.stringify(value.digest)} is not a digest`);
  }
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0)
    throw new DocumentError(`${field}.size is ${typeName(value.size)}, not a whole number of bytes`);
}

/** Index entries: descriptors whose platform, when given, names an os and an architecture. */
function checkIndex(doc: Record<string, unknown>): void {
  if (!Array.isArray(doc.manifests)) throw new DocumentError('index has no manifests list');
  doc.manifests.forEach((entry: unknown, i) => {
    const field = `manifests[${i}]`;
    checkDescriptor(entry, field);
    const platform = (entry as Descriptor).platform as unknown;
    if (platform === undefined) return;
    if (!isObject(platform))
      throw new DocumentError(`${field}.platform is ${typeName(platform)}, not an object`);
    for (const key of ['architecture', 'os'])
      if (typeof platform[key] !== 'string')
        throw new DocumentError(
          `${field}.platform.${key} is ${platform[key] === undefined ? 'missing' : typeName(platform[key])}`,
        );
  });
}

function checkImageManifest(doc: Record<string, unknown>, mediaType: string): void {
  if (!isObject(doc.config) || !Array.isArray(doc.layers))
    throw new DocumentError(`unsupported manifest type ${JSON.stringify(mediaType)} (no config or layers)`);
  checkDescriptor(doc.config, 'config');
  doc.layers.forEach((layer: unknown, i) => checkDescriptor(layer, `layers[${i}]`));
}

/**
 * The media type to record for a document: its own `mediaType` when it has one, else the
 * registry's Content-Type when that is a manifest or index type. Without a Content-Type (a
 * document read back from our own layout) the shape decides, as it was checked when stored.
 */
function documentMediaType(doc: Record<string, unknown>, contentType: string | undefined): string {
  if (doc.mediaType !== undefined) {
    if (typeof doc.mediaType !== 'string' || !doc.mediaType)
      throw new DocumentError(`mediaType is ${typeName(doc.mediaType)}, not a media type`);
    return doc.mediaType;
  }
  if (contentType === undefined || contentType === '') return '';
  if (INDEX_MEDIA_TYPES.includes(contentType) || MANIFEST_MEDIA_TYPES.includes(contentType))
    return contentType;
  throw new DocumentError(
    `the document has no mediaType and was served as ${JSON.stringify(contentType)}, which is not a manifest or index type`,
  );
}

/**
 * Classifies manifest bytes as an index or an image manifest and checks every descriptor in
 * it. The document's own mediaType wins over the Content-Type the registry sent.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ManifestDocument {
  const doc = parseJson(bytes, 'manifest');
  const mediaType = documentMediaType(doc, contentType);
  if (
    doc.schemaVersion === 1 ||
    mediaType === MediaType.DockerSchema1 ||
    mediaType === MediaType.DockerSchema1Signed
  ) {
    throw new DocumentError(
      'the registry served a Docker schema 1 manifest, which is deprecated and not supported: push the image again with a current Docker or buildx',
      'unsupported',
    );
  }
  if (doc.schemaVersion !== 2)
    throw new DocumentError(
      `manifest has unsupported schemaVersion ${String(doc.schemaVersion)}`,
      'unsupported',
    );
  const known = INDEX_MEDIA_TYPES.includes(mediaType) || MANIFEST_MEDIA_TYPES.includes(mediaType);
  if (mediaType && !known)
    throw new DocumentError(`unsupported manifest type ${JSON.stringify(mediaType)}`, 'unsupported');
  const isIndex = INDEX_MEDIA_TYPES.includes(mediaType) || (!mediaType && Array.isArray(doc.manifests));
  if (isIndex) {
    checkIndex(doc);
    return {
      kind: 'index',
      mediaType: mediaType || MediaType.OciIndex,
      document: doc as unknown as ImageIndex,
    };
  }
  checkImageManifest(doc, mediaType);
  return {
    kind: 'manifest',
    mediaType: mediaType || MediaType.OciManifest,
    document: doc as unknown as ImageManifest,
  };
}

export function parseConfig(bytes: Uint8Array): ImageConfig {
  const doc = parseJson(bytes, 'image config');
  const rootfs = doc.rootfs as { diff_ids?: unknown } | undefined;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids))
    throw new DocumentError('image config has no rootfs.diff_ids');
  rootfs.diff_ids.forEach((id: unknown, i) => {
    if (typeof id !== 'string')
      throw new DocumentError(`image config rootfs.diff_ids[${i}] is ${typeName(id)}`);
  });
  for (const key of ['architecture', 'os'])
    if (typeof doc[key] !== 'string')
      throw new DocumentError(
        `image config ${key} is ${doc[key] === undefined ? 'missing' : typeName(doc[key])}`,
      );
  if (doc.variant !== undefined && typeof doc.variant !== 'string')
    throw new DocumentError(`image config variant is ${typeName(doc.variant)}`);
  return doc as unknown as ImageConfig;
}
