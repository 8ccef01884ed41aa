import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  commitTemporary,
  discardTemporary,
  removeAbandonedTemporaries,
  temporarySibling,
} from '../util/fs.js';
import { fileWriteError } from './file-errors.js';
import { unwritten } from '../util/short-write.js';

/** Where a tar's bytes go: appended in order, with headers rewritten in place. */
export interface TarSink {
  /** Appends the chunks; the caller may reuse them once the promise settles. */
  write(chunks: Uint8Array[]): Promise<void>;
  /** Writes at a position of its own: a header whose size became known at the end, or an entry's data filled in later. */
  writeAt(chunks: Uint8Array[], position: number): Promise<void>;
  /** Leaves `bytes` unwritten (a hole, read as zeros) for writeAt to fill; appends go on after it. */
  skip(bytes: number): void;
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
    // What a killed run left of this file goes now: an archive is written during a whole pull.
    await removeAbandonedTemporaries(dirname(path), (target) => target === basename(path));
    const tmp = temporarySibling(path);
    try {
      return new FileSink(await open(tmp, 'w'), tmp, path);
    } catch (err) {
      throw fileWriteError(err, path);
    }
  }

  async write(chunks: Uint8Array[]): Promise<void> {
    const at = this.position;
    this.position += chunks.reduce((n, c) => n + c.length, 0);
    await this.writeAt(chunks, at);
  }

  async writeAt(chunks: Uint8Array[], position: number): Promise<void> {
    try {
      let rest = chunks;
      let at = position;
      while (rest.length) {
        const { bytesWritten } = await this.fh.writev(rest, at);
        at += bytesWritten;
        rest = unwritten(rest, bytesWritten);
      }
    } catch (err) {
      throw fileWriteError(err, this.path);
    }
  }

  skip(bytes: number): void {
    this.position += bytes;
  }

  async finish(): Promise<void> {
    try {
      await this.fh.close();
      await commitTemporary(this.tmp, this.path);
    } catch (err) {
      throw fileWriteError(err, this.path);
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await discardTemporary(this.tmp);
  }
}
