import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { temporarySibling } from '../util/fs.js';
import { fileWriteError } from './file-errors.js';
import { unwritten } from '../util/short-write.js';

/** Where a tar's bytes go: appended in order, with headers rewritten in place. */
export interface TarSink {
  /** Appends the chunks; the caller may reuse them once the promise settles. */
  write(chunks: Uint8Array[]): Promise<void>;
  /** Overwrites bytes written earlier (a header whose size became known at the end). */
  writeAt(data: Uint8Array, position: number): Promise<void>;
  /** All bytes are in: make them visible. */
  finish(): Promise<void>;
  /** Something failed: leave nothing behind. */
  abort(): Promise<void>;
}

/**
 * A file written under a temporary sibling name and renamed to `path` by finish(); every
 * file-system failure names `path` and says what to do.
 */
export class FileSink implements TarSink {
  private position = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    readonly path: string,
  ) {}

  static async create(path: string): Promise<FileSink> {
    // Fail before writing gigabytes, when rename would: a directory is in the way.
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isDirectory()) throw fileWriteError(Object.assign(new Error(), { code: 'EISDIR' }), path);
    const tmp = temporarySibling(path);
    try {
      return new FileSink(await open(tmp, 'w'), tmp, path);
    } catch (err) {
      throw fileWriteError(err, path);
    }
  }

  async write(chunks: Uint8Array[]): Promise<void> {
    try {
      let rest = chunks;
      while (rest.length) {
        const { bytesWritten } = await this.fh.writev(rest, this.position);
        this.position += bytesWritten;
        rest = unwritten(rest, bytesWritten);
      }
    } catch (err) {
      throw fileWriteError(err, this.path);
    }
  }

  async writeAt(data: Uint8Array, position: number): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
    } catch (err) {
      throw fileWriteError(err, this.path);
    }
  }

  async finish(): Promise<void> {
    try {
      await this.fh.close();
      await rename(this.tmp, this.path);
    } catch (err) {
      throw fileWriteError(err, this.path);
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}
