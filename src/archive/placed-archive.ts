import type { LayoutStore } from '../layout/layout-store.js';
import type { PlannedEntry } from './archive-plan.js';
import { onLayoutBlob } from './docker-archive.js';
import { FileSink } from './tar-sink.js';
import { TarWriter } from './tar-writer.js';

interface Place {
  at: number;
  size: number;
  filled: boolean;
}

/**
 * An archive whose entries all have their place before any blob is there: headers and
 * documents are written at once, each blob's data is a hole that its download fills as the
 * bytes arrive (`write`, any order, any number at once), and `finish` copies in from the
 * layout the blobs no download brought, then renames the file into place. The bytes are the
 * same as an archive written from the finished layout.
 */
export class PlacedArchive {
  /** The first write that failed: reported by finish. */
  private failure?: unknown;

  private constructor(
    private readonly sink: FileSink,
    private readonly tar: TarWriter,
    private readonly places: Map<string, Place>,
    readonly size: number,
  ) {}

  get path(): string {
    return this.sink.path;
  }

  static async create(path: string, plan: PlannedEntry[]): Promise<PlacedArchive> {
    const sink = await FileSink.create(path);
    const tar = new TarWriter(sink);
    const places = new Map<string, Place>();
    try {
      for (const entry of plan) {
        if (entry.kind === 'directory') await tar.addDirectory(entry.name);
        else if (entry.kind === 'bytes') await tar.addBytes(entry.name, entry.bytes);
        else
          places.set(entry.digest, {
            at: await tar.reserve(entry.name, entry.size),
            size: entry.size,
            filled: false,
          });
      }
      return new PlacedArchive(sink, tar, places, await tar.end());
    } catch (err) {
      await tar.abort();
      throw err;
    }
  }

  /**
   * Whether the archive has a place for this blob of this size. A blob listed with another
   * size by some image (a broken manifest) is not filled by downloads: finish copies it and
   * fails on the size, as an archive written from the layout does.
   */
  holds(desc: { digest: string; size: number }): boolean {
    return this.places.get(desc.digest)?.size === desc.size;
  }

  /**
   * Writes bytes of a blob at `offset` within it. A failure (a full disk) is kept for finish to
   * report and the archive takes no more bytes, so the downloads, and the layout, go on.
   */
  async write(digest: string, chunks: Uint8Array[], offset: number): Promise<void> {
    if (this.failure !== undefined) return;
    const place = this.places.get(digest) as Place;
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    try {
      if (offset + bytes > place.size)
        throw new Error(`${digest}: ${offset + bytes} bytes for a place of ${place.size}`);
      await this.sink.writeAt(chunks, place.at + offset);
    } catch (err) {
      this.failure ??= err;
    }
  }

  /** Every byte of the blob went through `write` and matched its digest. */
  filled(digest: string): void {
    const place = this.places.get(digest);
    if (place) place.filled = true;
  }

  /** Copies in from the layout every blob not filled yet, then makes the archive visible. */
  async finish(store: LayoutStore): Promise<number> {
    try {
      if (this.failure !== undefined) throw this.failure;
      for (const [digest, place] of this.places) {
        if (!place.filled) await onLayoutBlob(store, digest, () => this.copy(store, digest, place));
      }
      await this.sink.finish();
      return this.size;
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  async abort(): Promise<void> {
    await this.tar.abort();
  }

  private async copy(store: LayoutStore, digest: string, place: Place): Promise<void> {
    let copied = 0;
    for await (const chunk of store.openBlob(digest) as AsyncIterable<Buffer>) {
      if (copied + chunk.length > place.size)
        throw new Error(`holds more than the ${place.size} bytes expected`);
      await this.write(digest, [chunk], copied);
      copied += chunk.length;
    }
    if (copied !== place.size) throw new Error(`expected ${place.size} bytes, read ${copied}`);
    place.filled = true;
  }
}
