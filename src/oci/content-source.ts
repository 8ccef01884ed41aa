import type { ImageReference } from '../references/reference.js';
import type { Descriptor } from './documents.js';

/** What is known of a document before it is read: its digest, and maybe its type and size. */
export interface DocumentRef {
  digest: string;
  mediaType?: string;
  size?: number;
}

/** A manifest or index as read: the exact bytes (their digest was checked) and their type. */
export interface FetchedDocument {
  digest: string;
  bytes: Buffer;
  /** The type the source gave (a registry's Content-Type, a layout's index entry); may be empty. */
  mediaType?: string;
}

/**
 * Where an image's documents come from: a registry, or an OCI layout that holds a pulled copy.
 * The pull resolves images through it, and so does the archive writer; an outage or `--offline`
 * resolves from the layout instead of the registry, with the same code. Layers are not part
 * of it: they stream from the registry into the layout, and from the layout into archives.
 */
export interface ContentSource {
  /** `registry ghcr.io`, `layout /tmp/l`: where messages say the content was looked for. */
  describe(ref: ImageReference): string;
  /** The top-level document a reference names: its digest when pinned, else what its tag points at. */
  resolve(ref: ImageReference): Promise<DocumentRef>;
  /** A manifest or index by digest. */
  manifest(ref: ImageReference, doc: DocumentRef): Promise<FetchedDocument>;
  /** A small blob (an image config) by descriptor, read whole, digest checked. */
  blob(ref: ImageReference, desc: Descriptor): Promise<Buffer>;
  /**
   * Whether the source holds a blob. A layout holds one platform's manifest of a
   * multi-platform index, so this picks the platform a layout was pulled for.
   */
  has?(desc: Descriptor): Promise<boolean>;
}
