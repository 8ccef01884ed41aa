import type { Descriptor } from '../oci/documents.js';
import {
  BlobMismatchError,
  type BlobMirror,
  type BlobWriter,
  type LayoutStore,
} from '../layout/layout-store.js';
import type { ImageReference } from '../references/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { UserError } from '../util/errors.js';
import { Limiter } from '../util/limit.js';
import type { Progress } from './progress.js';

export type BlobSource = 'layout' | 'registry';

/** A blob to fetch, with the image it is fetched for (its registry, and the name in messages). */
export interface BlobJob {
  ref: ImageReference;
  desc: Descriptor;
}

/**
 * What this run knows of each blob: whether the layout holds it, where it came from, what was
 * downloaded, and the downloads in flight. Every blob is checked once and fetched at most
 * once per run, whichever images share it; the first failure stops the downloads not yet begun.
 */
export class BlobScheduler {
  /** One presence check (and, with verify, one re-hash) per blob per run. */
  private readonly present = new Map<string, Promise<boolean>>();
  private readonly sources = new Map<string, BlobSource>();
  private readonly downloadedBytes = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<void>>();
  /** The first download that failed: later ones are not started. */
  private failure?: unknown;
  /** Where else a downloaded blob's bytes go as they arrive (archives written meanwhile). */
  private mirrorFor?: (desc: Descriptor) => BlobMirror | undefined;
  readonly limiter: Limiter;

  constructor(
    private readonly store: LayoutStore,
    private readonly client: RegistryClient,
    options: { concurrency: number; verify?: boolean },
  ) {
    this.limiter = new Limiter(options.concurrency);
    this.verify = options.verify ?? false;
  }

  private readonly verify: boolean;

  /** Whether the layout holds the blob (re-hashed with verify); a present blob counts as from the layout. */
  isPresent(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    let p = this.present.get(desc.digest);
    if (!p) {
      p = (this.verify ? this.store.verifyBlob(desc) : this.store.hasBlob(desc)).then((held) => {
        if (held && !this.sources.has(desc.digest)) this.sources.set(desc.digest, 'layout');
        return held;
      });
      this.present.set(desc.digest, p);
    }
    return p;
  }

  /** From now on, each download also sends its bytes to the mirror this gives for its blob. */
  mirrorWith(mirrorFor: (desc: Descriptor) => BlobMirror | undefined): void {
    this.mirrorFor = mirrorFor;
  }

  /** Records a blob this run stored from the registry (documents, which are not streamed). */
  recordDownload(digest: string, bytes: number): void {
    this.sources.set(digest, 'registry');
    this.downloadedBytes.set(digest, bytes);
    this.present.set(digest, Promise.resolve(true));
  }

  source(digest: string): BlobSource | undefined {
    return this.sources.get(digest);
  }

  downloaded(digest: string): number {
    return this.downloadedBytes.get(digest) ?? 0;
  }

  /** Bytes fetched in this run, each blob once. */
  get totalDownloaded(): number {
    let n = 0;
    for (const b of this.downloadedBytes.values()) n += b;
    return n;
  }

  /** The blobs of `jobs` the layout lacks, each once, biggest first. */
  async missing(jobs: BlobJob[]): Promise<BlobJob[]> {
    const unique = new Map<string, BlobJob>();
    for (const j of jobs) if (!unique.has(j.desc.digest)) unique.set(j.desc.digest, j);
    const out: BlobJob[] = [];
    for (const j of unique.values()) if (!(await this.isPresent(j.desc))) out.push(j);
    return out.sort((a, b) => b.desc.size - a.desc.size);
  }

  /**
   * Downloads every job through the limiter, calling `done` as each blob lands. The first
   * failure is thrown once the downloads already running have settled.
   */
  async fetchAll(jobs: BlobJob[], progress: Progress, done: (digest: string) => void): Promise<void> {
    const runs = jobs.map((j) =>
      this.fetch(j, progress).then(() => {
        progress.blobDone();
        done(j.desc.digest);
      }),
    );
    await Promise.allSettled(runs);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Downloads one blob into the layout (once per run, however many callers ask). */
  fetch(job: BlobJob, progress?: Progress): Promise<void> {
    let p = this.inflight.get(job.desc.digest);
    if (!p) {
      p = this.limiter.run(() => this.download(job, progress));
      this.inflight.set(job.desc.digest, p);
    }
    return p;
  }

  private async download({ ref, desc }: BlobJob, progress?: Progress): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    let writer: BlobWriter | undefined;
    try {
      // Inside the try: a writer that cannot open (its partial file unreadable, no file
      // handles left) fails the run like any other failure of this blob.
      writer = await this.store.createBlobWriter(desc);
      const mirror = this.mirrorFor?.(desc);
      if (mirror) writer.mirrorTo(mirror);
      await this.client.downloadBlob(ref, desc.digest, progress ? progress.track(writer) : writer);
      await writer.commit();
    } catch (err) {
      await writer?.abort();
      this.failure ??= blobError(err, ref, desc);
      throw this.failure;
    }
    // Bytes a killed run had already written were not downloaded again.
    this.recordDownload(desc.digest, desc.size - writer.resumedFrom);
  }
}

function blobError(err: unknown, ref: ImageReference, desc: Descriptor): unknown {
  if (err instanceof BlobMismatchError) {
    return new UserError(
      `image ${ref.original} (registry ${ref.domain}): blob ${desc.digest} is corrupt (${err.message})`,
      { code: 'corrupt', image: ref.original, registry: ref.domain, blob: desc.digest },
    );
  }
  if (err instanceof UserError) return err.forImage(ref.original);
  return err;
}
