import type { ContentSource, DocumentRef, FetchedDocument } from '../oci/content-source.js';
import type { Descriptor } from '../oci/documents.js';
import type { LayoutStore } from '../layout/layout-store.js';
import type { ImageReference } from '../references/reference.js';
import type { BlobScheduler } from './blob-scheduler.js';

/**
 * The pull's view of documents: from the layout when it holds them, else from the upstream
 * source (the registry) and then stored. Each digest is read once per run, however many
 * references share it: two tags of one digest cost one manifest GET, one platform-manifest GET
 * and one config GET (manifest GETs count against Docker Hub's pull limit).
 */
export class StoredSource implements ContentSource {
  private readonly documents = new Map<string, Promise<FetchedDocument>>();
  private readonly tags = new Map<string, Promise<DocumentRef>>();

  constructor(
    private readonly upstream: ContentSource,
    private readonly store: LayoutStore,
    private readonly blobs: BlobScheduler,
  ) {}

  describe(ref: ImageReference): string {
    return this.upstream.describe(ref);
  }

  resolve(ref: ImageReference): Promise<DocumentRef> {
    return once(this.tags, ref.original, () => this.blobs.limiter.run(() => this.upstream.resolve(ref)));
  }

  manifest(ref: ImageReference, doc: DocumentRef): Promise<FetchedDocument> {
    return once(this.documents, doc.digest, () =>
      this.read(ref, doc, () => this.upstream.manifest(ref, doc)),
    );
  }

  async blob(ref: ImageReference, desc: Descriptor): Promise<Buffer> {
    const doc = await once(this.documents, desc.digest, () =>
      this.read(ref, desc, async () => ({ digest: desc.digest, bytes: await this.upstream.blob(ref, desc) })),
    );
    return doc.bytes;
  }

  private async read(
    ref: ImageReference,
    doc: DocumentRef,
    fetch: () => Promise<FetchedDocument>,
  ): Promise<FetchedDocument> {
    // A pinned reference's size is unknown until read; a stored blob was verified when written.
    const size = doc.size ?? (await this.store.blobSize(doc.digest));
    if (size !== undefined && (await this.blobs.isPresent({ digest: doc.digest, size }))) {
      return { digest: doc.digest, bytes: await this.store.readBlob(doc.digest), mediaType: doc.mediaType };
    }
    const fetched = await this.blobs.limiter.run(fetch);
    await this.store.putBytes(fetched.digest, fetched.bytes);
    this.blobs.recordDownload(fetched.digest, fetched.bytes.length);
    return { ...fetched, mediaType: fetched.mediaType || doc.mediaType };
  }
}

function once<T>(memo: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = memo.get(key);
  if (!p) {
    p = make();
    memo.set(key, p);
  }
  return p;
}
