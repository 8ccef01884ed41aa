import type { ImageConfig, ImageIndex, ImageManifest, ManifestDocument } from './documents.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType } from './media-types.js';

/** A document that is not what it should be; the caller adds which image and registry. */
export class DocumentError extends Error {
  constructor(message: string) {
    super(message);
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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DocumentError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Classifies manifest bytes as an index or an image manifest. The document's own mediaType
 * wins over the Content-Type the registry sent; documents without one are told apart by shape.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ManifestDocument {
  const doc = parseJson(bytes, 'manifest');
  const mediaType = (typeof doc.mediaType === 'string' && doc.mediaType) || contentType || '';
  if (
    doc.schemaVersion === 1 ||
    mediaType === MediaType.DockerSchema1 ||
    mediaType === MediaType.DockerSchema1Signed
  ) {
    throw new DocumentError(
      'the registry served a Docker schema 1 manifest, which is deprecated and not supported: push the image again with a current Docker or buildx',
    );
  }
  if (doc.schemaVersion !== 2)
    throw new DocumentError(`manifest has unsupported schemaVersion ${String(doc.schemaVersion)}`);
  const isIndex =
    INDEX_MEDIA_TYPES.includes(mediaType) ||
    (!MANIFEST_MEDIA_TYPES.includes(mediaType) && Array.isArray(doc.manifests));
  if (isIndex) {
    if (!Array.isArray(doc.manifests)) throw new DocumentError('index has no manifests list');
    return {
      kind: 'index',
      mediaType: mediaType || MediaType.OciIndex,
      document: doc as unknown as ImageIndex,
    };
  }
  if (typeof doc.config !== 'object' || doc.config === null || !Array.isArray(doc.layers)) {
    throw new DocumentError(`unsupported manifest type ${JSON.stringify(mediaType)} (no config or layers)`);
  }
  return {
    kind: 'manifest',
    mediaType: mediaType || MediaType.OciManifest,
    document: doc as unknown as ImageManifest,
  };
}

export function parseConfig(bytes: Uint8Array): ImageConfig {
  const doc = parseJson(bytes, 'image config');
  const rootfs = doc.rootfs as { diff_ids?: unknown } | undefined;
  if (!rootfs || !Array.isArray(rootfs.diff_ids))
    throw new DocumentError('image config has no rootfs.diff_ids');
  return doc as unknown as ImageConfig;
}
