import type { ContentSource, DocumentRef, FetchedDocument } from '../oci/content-source.js';
import type { Descriptor } from '../oci/documents.js';
import type { ImageReference } from '../references/reference.js';
import type { RegistryClient } from './client.js';

/**
 * The registry as a content source: tags by HEAD, documents by digest, each checked against
 * its digest and capped while it streams (the client does both).
 */
export class RegistrySource implements ContentSource {
  constructor(readonly client: RegistryClient) {}

  describe(ref: ImageReference): string {
    return `registry ${ref.domain}`;
  }

  async resolve(ref: ImageReference): Promise<DocumentRef> {
    if (ref.digest) return { digest: ref.digest };
    return this.client.resolveTag(ref);
  }

  async manifest(ref: ImageReference, doc: DocumentRef): Promise<FetchedDocument> {
    const m = await this.client.fetchManifest(ref, doc.digest);
    return { digest: m.digest, bytes: m.bytes, mediaType: m.mediaType };
  }

  blob(ref: ImageReference, desc: Descriptor): Promise<Buffer> {
    return this.client.fetchBlobBytes(ref, desc);
  }
}
