import type { ContentSource, DocumentRef, FetchedDocument } from '../oci/content-source.js';
import type { Descriptor } from '../oci/documents.js';
import { sha256Digest } from '../oci/digest.js';
import type { ImageReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import type { BlobSink, RegistryClient } from './client.js';

/** Registries cap manifests at 4 MiB; a config is a document of the same order. */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** The registry as a content source: tags by HEAD, documents by digest, each checked. */
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

  /** A config, held in memory under a cap enforced while it streams. */
  async blob(ref: ImageReference, desc: Descriptor): Promise<Buffer> {
    const where = `image ${ref.original} (registry ${ref.domain})`;
    if (desc.size > MAX_DOCUMENT_BYTES) {
      throw new UserError(
        `${where}: blob ${desc.digest} claims ${desc.size} bytes, more than the ${MAX_DOCUMENT_BYTES}-byte cap for a config`,
        { code: 'too-large', image: ref.original, registry: ref.domain, blob: desc.digest },
      );
    }
    const sink = new MemorySink(desc.size);
    try {
      await this.client.downloadBlob(ref, desc.digest, sink);
    } catch (err) {
      if (err instanceof UserError && !err.image)
        throw err.with(
          { image: ref.original, registry: ref.domain, blob: desc.digest },
          `${where}: blob ${desc.digest}: ${err.message}`,
        );
      throw err;
    }
    const bytes = sink.bytes();
    if (bytes.length !== desc.size || sha256Digest(bytes) !== desc.digest) {
      throw new UserError(
        `${where}: blob ${desc.digest} arrived as ${bytes.length} bytes hashing to ${sha256Digest(bytes)}`,
        { code: 'corrupt', image: ref.original, registry: ref.domain, blob: desc.digest },
      );
    }
    return bytes;
  }
}

/** A sink for small blobs that refuses to grow past its cap. */
class MemorySink implements BlobSink {
  private chunks: Buffer[] = [];
  written = 0;

  constructor(private readonly cap: number) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.written + chunk.length > this.cap)
      throw new UserError(`the blob is larger than the ${this.cap} bytes it was announced as`, {
        code: 'corrupt',
      });
    this.chunks.push(chunk);
    this.written += chunk.length;
  }

  async reset(): Promise<void> {
    this.chunks = [];
    this.written = 0;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}
