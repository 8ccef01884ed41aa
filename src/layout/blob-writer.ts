import type { Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Descriptor } from '../oci/documents.js';
import { newDigester } from '../oci/digest.js';
import { asFileSystemError, makeFolder } from '../util/fs.js';
import { unwritten } from '../util/short-write.js';

/** Thrown when bytes do not match the digest or size they were promised under. */
export class BlobMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobMismatchError';
  }
}

/** Another place a blob's bytes go as they arrive, at the same offsets: an archive being written. */
export interface BlobMirror {
  write(chunks: Buffer[], offset: number): Promise<void>;
  /** Every byte of the blob went through `write`, and the blob matched its digest. */
  complete(): void;
}

/**
 * Writers open in this process, by partial file: a second writer of one digest waits for the
 * first to finish instead of interleaving with it (across processes the layout lock does this).
 */
const claims = new Map<string, Promise<void>>();

/** True while a writer of this partial file is open in this process. */
export function isClaimed(partial: string): boolean {
  return claims.has(partial);
}

async function claim(partial: string): Promise<() => void> {
  const previous = claims.get(partial) ?? Promise.resolve();
  let release = () => undefined as void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const chained = previous.then(() => mine);
  claims.set(partial, chained);
  await previous;
  return () => {
    if (claims.get(partial) === chained) claims.delete(partial);
    release();
  };
}

/**
 * Opens the writer of one blob on its partial file `partial` (named by the digest, so a later
 * run finds it), continuing from the bytes a killed or failed run left there: they are
 * re-hashed and `written` starts after them, so the download asks only for the rest (Range).
 */
export async function openBlobWriter(
  desc: Pick<Descriptor, 'digest' | 'size'>,
  partial: string,
  final: string,
): Promise<BlobWriter> {
  const release = await claim(partial);
  let fh: FileHandle | undefined;
  try {
    await makeFolder(dirname(partial));
    fh = await open(partial, constants.O_RDWR | constants.O_CREAT);
    let kept = (await fh.stat()).size;
    // A complete partial keeps its last byte to fetch: the download then still has a range to ask for.
    if (kept >= desc.size) kept = kept > desc.size ? 0 : Math.max(0, desc.size - 1);
    await fh.truncate(kept);
    const hash = await hashPrefix(fh, kept);
    return new BlobWriter(desc, fh, partial, final, hash, kept, release);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    release();
    // Failures name the blob, as users know it; a folder in the partial file's way is named where it is.
    const inTheWay = (err as NodeJS.ErrnoException | undefined)?.code === 'EISDIR';
    throw asFileSystemError(err, inTheWay ? partial : final);
  }
}

/** Hashes the first `size` bytes of a file in bounded chunks. */
async function hashPrefix(fh: FileHandle, size: number): Promise<Hash> {
  const hash = newDigester();
  const buffer = Buffer.allocUnsafe(Math.min(size, 1 << 20));
  for (let at = 0; at < size;) {
    const { bytesRead } = await fh.read(buffer, 0, Math.min(buffer.length, size - at), at);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hash;
}

/**
 * Receives one blob's bytes in order, hashing them as they arrive, so a download can resume
 * where it broke off (`written`) or start over (`reset`). Nothing is held in memory beyond a
 * megabyte of pending bytes. Bytes land in a partial file that `commit` renames into place once
 * size and digest match; `abort` keeps it for the next run to continue.
 */
export class BlobWriter {
  /** Received bytes not yet handed to the file, and where they go. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushedTo: number;
  /** The one write in flight: the socket keeps being read while the disk writes. */
  private inflight: Promise<void> = Promise.resolve();
  private closed = false;
  private mirror?: BlobMirror;

  constructor(
    private readonly desc: Pick<Descriptor, 'digest' | 'size'>,
    private readonly fh: FileHandle,
    private readonly partial: string,
    private readonly final: string,
    private hash: Hash,
    /** Bytes received and hashed, including those a previous run left. */
    private size: number,
    private readonly release: () => void,
  ) {
    this.flushedTo = size;
    /** Bytes found in the partial file when opened: what this run did not have to download. */
    this.resumedFrom = size;
  }

  readonly resumedFrom: number;

  /**
   * Sends every byte to `mirror` as well, at the same offsets. Only a blob received from its
   * first byte can be mirrored (a resumed one's first bytes came from an earlier run): returns
   * whether it took.
   */
  mirrorTo(mirror: BlobMirror): boolean {
    if (this.resumedFrom !== 0) return false;
    this.mirror = mirror;
    return true;
  }

  /** Bytes received so far: the offset to resume from. */
  get written(): number {
    return this.size;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.size + chunk.length > this.desc.size) {
      await this.discard();
      throw new BlobMismatchError(`received more than the ${this.desc.size} bytes expected`);
    }
    this.hash.update(chunk);
    this.size += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  /** Hands what is pending to the file, after the previous write has finished. */
  private async flush(): Promise<void> {
    await this.settled();
    if (this.pendingBytes === 0) return;
    const buffers = this.pending;
    const at = this.flushedTo;
    this.flushedTo += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const write = this.mirror
      ? both(writeAllAt(this.fh, buffers, at), this.mirror.write(buffers, at))
      : writeAllAt(this.fh, buffers, at);
    // Handled here so a failure waits for the next flush or commit to be reported, not crash the process.
    write.catch(() => undefined);
    this.inflight = write;
  }

  /** Waits for the write in flight; a failure (no space, I/O) names the blob's real path. */
  private async settled(): Promise<void> {
    try {
      await this.inflight;
    } catch (err) {
      throw asFileSystemError(err, this.final);
    }
  }

  /** Forgets what was received (the server restarted from byte 0). */
  async reset(): Promise<void> {
    await this.inflight.catch(() => undefined);
    this.inflight = Promise.resolve();
    this.hash = newDigester();
    this.size = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.flushedTo = 0;
    await this.fh.truncate(0);
  }

  /** Checks size and digest, then renames the blob into place. */
  async commit(): Promise<void> {
    try {
      await this.flush();
      await this.settled();
      await this.closeFile();
      await this.verifyAndRename();
    } finally {
      // Only now may another writer of this digest open the (renamed or removed) partial.
      this.release();
    }
  }

  private async verifyAndRename(): Promise<void> {
    if (this.size !== this.desc.size) {
      await this.discard();
      throw new BlobMismatchError(`received ${this.size} bytes, expected ${this.desc.size}`);
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.desc.digest) {
      // Wrong bytes, from this run or the one it continued: the next run starts from byte 0.
      await this.discard();
      throw new BlobMismatchError(`content hashes to ${actual}, expected ${this.desc.digest}`);
    }
    try {
      await rename(this.partial, this.final);
    } catch (err) {
      throw asFileSystemError(err, this.final);
    }
    this.mirror?.complete();
  }

  /**
   * Stops writing and keeps what reached the disk, so the next run continues from there; the
   * layout is as it was. Safe to call after commit or discard.
   */
  async abort(): Promise<void> {
    if (!this.closed) await this.flush().catch(() => undefined);
    await this.closeFile();
    this.release();
  }

  /** Removes the partial file: its bytes are wrong, not merely incomplete. */
  async discard(): Promise<void> {
    await this.closeFile();
    await rm(this.partial, { force: true });
  }

  private async closeFile(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inflight.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
  }
}

/** Received bytes gathered before one write: few large writes instead of many small ones. */
const FLUSH_BYTES = 1 << 20;

/** Both writes settled; the first failure, if any, thrown (neither is left running). */
async function both(a: Promise<void>, b: Promise<void>): Promise<void> {
  const failed = (await Promise.allSettled([a, b])).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function writeAllAt(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest, at);
    at += bytesWritten;
    rest = unwritten(rest, bytesWritten);
  }
}
