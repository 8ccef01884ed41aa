import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Header } from 'tar';
import { temporarySibling } from '../util/fs.js';

const BLOCK = 512;
/** Fixed metadata so the same entries always give the same bytes. */
const FIXED = { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) };

/**
 * Writes a ustar archive entry by entry, straight to a temporary file that is renamed to
 * `path` by finish(). Entry data is streamed: memory use does not depend on entry size.
 */
export class TarWriter {
  private position = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    private readonly path: string,
  ) {}

  static async create(path: string): Promise<TarWriter> {
    const tmp = temporarySibling(path);
    return new TarWriter(await open(tmp, 'w'), tmp, path);
  }

  async addDirectory(name: string): Promise<void> {
    await this.writeHeader({
      path: name.endsWith('/') ? name : `${name}/`,
      type: 'Directory',
      mode: 0o755,
      size: 0,
    });
  }

  async addBytes(name: string, data: Uint8Array): Promise<void> {
    await this.writeHeader({ path: name, type: 'File', mode: 0o644, size: data.length });
    await this.write(data);
    await this.pad(data.length);
  }

  /** Streams `size` bytes from `source`; fails if the source yields a different amount. */
  async addStream(name: string, size: number, source: Readable): Promise<void> {
    await this.writeHeader({ path: name, type: 'File', mode: 0o644, size });
    let written = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      written += chunk.length;
      if (written > size) break;
      await this.write(chunk);
    }
    if (written !== size) {
      source.destroy();
      throw new Error(`${name}: expected ${size} bytes, read ${written}`);
    }
    await this.pad(size);
  }

  /**
   * Streams an entry whose size is only known at its end (a layer being decompressed): the
   * header is written with size 0 and rewritten in place once the data is through.
   * Returns the entry's size.
   */
  async addUnsizedStream(name: string, source: AsyncIterable<Buffer>): Promise<number> {
    const headerAt = this.position;
    await this.writeHeader({ path: name, type: 'File', mode: 0o644, size: 0 });
    let size = 0;
    for await (const chunk of source) {
      size += chunk.length;
      await this.write(chunk);
    }
    await this.pad(size);
    const header = this.encodeHeader({ path: name, type: 'File', mode: 0o644, size });
    await this.fh.write(header, 0, BLOCK, headerAt);
    return size;
  }

  /** Ends the archive, moves it to its final name and returns its size. */
  async finish(): Promise<number> {
    await this.write(Buffer.alloc(BLOCK * 2));
    await this.fh.close();
    await rename(this.tmp, this.path);
    return this.position;
  }

  /** Removes the partial archive after a failure. */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }

  private encodeHeader(data: {
    path: string;
    type: 'File' | 'Directory';
    mode: number;
    size: number;
  }): Buffer {
    const header = new Header({ ...FIXED, ...data });
    header.encode();
    if (header.needPax || !header.block)
      throw new Error(`tar entry cannot be encoded as ustar: ${data.path}`);
    return header.block;
  }

  private async writeHeader(data: { path: string; type: 'File' | 'Directory'; mode: number; size: number }) {
    await this.write(this.encodeHeader(data));
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest) await this.write(Buffer.alloc(BLOCK - rest));
  }

  private async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.fh.write(data, offset, data.length - offset, this.position);
      offset += bytesWritten;
      this.position += bytesWritten;
    }
  }
}
