import type { ContentSource, DocumentRef, FetchedDocument } from '../oci/content-source.js';
import type { Descriptor, ImageIndex } from '../oci/documents.js';
import { sha256Digest } from '../oci/digest.js';
import { Annotation } from '../oci/media-types.js';
import { normalizedReference, type ImageReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import { isNotFound } from '../util/fs.js';
import type { LayoutStore } from './layout-store.js';

/** What reading a layout's images needs of a store (the archive writer reads without waiting). */
export type LayoutReader = Pick<LayoutStore, 'dir' | 'readIndex' | 'hasBlob' | 'readBlob'>;

/**
 * A layout as a content source: references resolve to the digests its index.json recorded,
 * documents are read from its blobs. What `archive`, `--offline` and the outage fallback read.
 */
export class LayoutSource implements ContentSource {
  private index?: Promise<ImageIndex>;

  constructor(readonly store: LayoutReader) {}

  describe(): string {
    return `layout ${this.store.dir}`;
  }

  /** The index.json entry recorded for a reference (as written, or fully qualified), if any. */
  async entry(ref: ImageReference): Promise<Descriptor | undefined> {
    this.index ??= this.store.readIndex();
    const { manifests } = await this.index;
    const full = normalizedReference(ref);
    return (
      manifests.find((d) => d.annotations?.[Annotation.RefName] === ref.original) ??
      manifests.find((d) => d.annotations?.[Annotation.ContainerdImageName] === full)
    );
  }

  async resolve(ref: ImageReference): Promise<DocumentRef> {
    const entry = await this.entry(ref);
    if (entry) return { digest: entry.digest, mediaType: entry.mediaType, size: entry.size };
    if (ref.digest) return { digest: ref.digest };
    throw this.missing(ref, `it holds no image ${ref.original}`);
  }

  async manifest(ref: ImageReference, doc: DocumentRef): Promise<FetchedDocument> {
    const bytes = await this.read(ref, doc.digest, doc.size);
    return { digest: doc.digest, bytes, mediaType: doc.mediaType };
  }

  blob(ref: ImageReference, desc: Descriptor): Promise<Buffer> {
    return this.read(ref, desc.digest, desc.size);
  }

  has(desc: Descriptor): Promise<boolean> {
    return this.store.hasBlob(desc);
  }

  /** A document's bytes, checked against its digest (cheap for documents, and a layout may be damaged). */
  private async read(ref: ImageReference, digest: string, size?: number): Promise<Buffer> {
    if (size !== undefined && !(await this.store.hasBlob({ digest, size })))
      throw this.missing(ref, `blob ${digest} is missing`);
    let bytes: Buffer;
    try {
      bytes = await this.store.readBlob(digest);
    } catch (err) {
      if (isNotFound(err)) throw this.missing(ref, `blob ${digest} is missing`);
      throw err;
    }
    if (sha256Digest(bytes) !== digest) {
      throw new UserError(
        `layout ${this.store.dir}, image ${ref.original}: blob ${digest} is damaged (its bytes hash to something else)`,
        { code: 'corrupt', image: ref.original, blob: digest },
      );
    }
    return bytes;
  }

  private missing(ref: ImageReference, why: string): UserError {
    return new UserError(`layout ${this.store.dir}, image ${ref.original}: ${why}`, {
      code: 'layout',
      image: ref.original,
    });
  }
}
