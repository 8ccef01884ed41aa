import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { BLOCK, entryHeader, padding, type EntryHeader } from './tar-headers.js';
import { FileSink, type TarSink } from './tar-sink.js';

/** Small entries gather here and reach the sink in few large writes. */
const BUFFER_BYTES = 1 << 20;
/** Data this large is handed to the sink as it is: copying it would cost more than a write. */
const PASS_THROUGH_BYTES = 256 << 10;
/** Blobs up to this size are read whole into the buffer; larger ones are streamed. */
export const SMALL_BLOB_BYTES = PASS_THROUGH_BYTES;
const ZEROS = Buffer.alloc(BUFFER_BYTES);
/** PAX header + its one block of records + the ustar header, reserved for an unsized entry. */
const UNSIZED_HEADER = 3 * BLOCK;

type ChunkSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Writes a tar entry by entry into a sink (a file that appears under its name only when
 * complete). Headers and small entries are gathered into one buffer; large data passes
 * through without copies, so memory use does not depend on entry size. Entries of 8 GiB and
 * more carry their size in a PAX record, as `docker save` writes them.
 */
export class TarWriter {
  /** Bytes handed to the sink so far. */
  private flushed = 0;
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private fill = 0;
  /** The other buffer, being written while this one fills. */
  private spare = Buffer.allocUnsafe(BUFFER_BYTES);
  private inflight: Promise<void> = Promise.resolve();

  constructor(private readonly sink: TarSink) {}

  static async create(path: string): Promise<TarWriter> {
    return new TarWriter(await FileSink.create(path));
  }

  /** Bytes of the archive so far. */
  get position(): number {
    return this.flushed + this.fill;
  }

  async addDirectory(name: string): Promise<void> {
    const path = name.endsWith('/') ? name : `${name}/`;
    await this.append(entryHeader({ path, type: 'Directory', mode: 0o755, size: 0 }));
  }

  async addBytes(name: string, data: Uint8Array): Promise<void> {
    await this.append(entryHeader(file(name, data.length)));
    await this.append(data);
    await this.pad(data.length);
  }

  /**
   * A small file (at most SMALL_BLOB_BYTES), read straight into the output buffer. The file must
   * hold exactly `size` bytes (its own size when not given). Reads are synchronous on purpose:
   * for small blobs the thread-pool round trips of open, read and close cost many times the
   * copy itself.
   */
  async addSmallFile(name: string, path: string, size?: number): Promise<void> {
    const fd = openSync(path, 'r');
    let streamed = false;
    try {
      const expected = size ?? fstatSync(fd).size;
      // One byte more than expected shows a file that grew.
      const room = expected + 1;
      if (room > BUFFER_BYTES) {
        // Not small after all (a document of unknown size can be up to 8 MiB).
        streamed = true;
        return await this.addStream(name, expected, createReadStream(path, { fd, highWaterMark: 1 << 20 }));
      }
      await this.append(entryHeader(file(name, expected)));
      if (room > BUFFER_BYTES - this.fill) await this.flush();
      let read = 0;
      for (let n = 1; n && read < room; read += n)
        n = readSync(fd, this.buffer, this.fill + read, room - read, read);
      if (read !== expected)
        throw new Error(
          `${path}: expected ${expected} bytes, read ${read}${read > expected ? ' or more' : ''}`,
        );
      this.fill += expected;
      await this.pad(expected);
    } finally {
      // The stream closes its descriptor itself.
      if (!streamed) closeSync(fd);
    }
  }

  /** Streams `size` bytes from `source`; fails if the source yields a different amount. */
  async addStream(name: string, size: number, source: Readable | ChunkSource): Promise<void> {
    await this.append(entryHeader(file(name, size)));
    let written = 0;
    for await (const chunk of source as ChunkSource) {
      written += chunk.length;
      if (written > size) break;
      await this.append(chunk);
    }
    if (written !== size) {
      (source as Partial<Readable>).destroy?.();
      throw new Error(`${name}: expected ${size} bytes, read ${written}`);
    }
    await this.pad(size);
  }

  /**
   * Streams an entry whose size is only known at its end (a layer being decompressed): room
   * for a PAX header is kept in front and filled in once the data is through, so any size
   * fits. Returns the entry's size.
   */
  async addUnsizedStream(name: string, source: ChunkSource): Promise<number> {
    const headerAt = this.position;
    await this.append(ZEROS.subarray(0, UNSIZED_HEADER));
    let size = 0;
    for await (const chunk of source) {
      size += chunk.length;
      await this.append(chunk);
    }
    await this.pad(size);
    const header = entryHeader(file(name, size), true);
    if (headerAt >= this.flushed) header.copy(this.buffer, headerAt - this.flushed);
    else {
      await this.drain();
      await this.sink.writeAt([header], headerAt);
    }
    return size;
  }

  /**
   * An entry whose data is written later, through the sink's writeAt: only its header is
   * written now, and its data left as a hole. Returns where the data goes.
   */
  async reserve(name: string, size: number): Promise<number> {
    await this.append(entryHeader(file(name, size)));
    await this.drain();
    const at = this.flushed;
    const room = size + padding(size);
    this.sink.skip(room);
    this.flushed += room;
    return at;
  }

  /** Writes the end of the archive and returns its size; the sink stays open for writeAt. */
  async end(): Promise<number> {
    await this.append(ZEROS.subarray(0, BLOCK * 2));
    await this.drain();
    return this.flushed;
  }

  /** Ends the archive, makes it visible and returns its size. */
  async finish(): Promise<number> {
    const size = await this.end();
    await this.sink.finish();
    return size;
  }

  /** Removes the partial archive after a failure. */
  async abort(): Promise<void> {
    await this.inflight.catch(() => undefined);
    await this.sink.abort();
  }

  private async pad(size: number): Promise<void> {
    const rest = padding(size);
    if (rest) await this.append(ZEROS.subarray(0, rest));
  }

  private async append(data: Uint8Array): Promise<void> {
    if (data.length >= PASS_THROUGH_BYTES) {
      // Out as it is, after what is gathered, in one write.
      await this.inflight;
      await this.sink.write(this.fill ? [this.buffer.subarray(0, this.fill), data] : [data]);
      this.flushed += this.fill + data.length;
      this.fill = 0;
      return;
    }
    if (data.length > BUFFER_BYTES - this.fill) await this.flush();
    this.buffer.set(data, this.fill);
    this.fill += data.length;
  }

  /** Starts writing the gathered bytes and goes on filling the other buffer meanwhile. */
  private async flush(): Promise<void> {
    if (!this.fill) return;
    await this.inflight;
    this.inflight = this.sink.write([this.buffer.subarray(0, this.fill)]);
    // Reported by the next wait for it, not as an unhandled rejection.
    this.inflight.catch(() => undefined);
    this.flushed += this.fill;
    this.fill = 0;
    [this.buffer, this.spare] = [this.spare, this.buffer];
  }

  /** Everything gathered is written. */
  private async drain(): Promise<void> {
    await this.flush();
    await this.inflight;
  }
}

function file(path: string, size: number): EntryHeader {
  return { path, type: 'File', mode: 0o644, size };
}
