import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Descriptor, ImageIndex } from '../oci/documents.js';
import { digestHex, newDigester, sha256Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { UserError } from '../util/errors.js';
import { isNotFound, processAlive, temporaryOwner, temporarySibling, writeFileAtomic } from '../util/fs.js';

/** Thrown when bytes do not match the digest or size they were promised under. */
export class BlobMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobMismatchError';
  }
}

const LAYOUT_VERSION = '1.0.0';

/**
 * An OCI image layout on disk: content-addressed blobs, `oci-layout` and `index.json`.
 * Every write goes to a temporary name and is renamed into place only once verified, so
 * the layout never holds a blob whose bytes differ from its name.
 */
export class LayoutStore {
  private constructor(readonly dir: string) {}

  /** Opens a layout, creating it when `create` is set. */
  static async open(dir: string, options: { create: boolean }): Promise<LayoutStore> {
    const store = new LayoutStore(dir);
    const marker = join(dir, 'oci-layout');
    let text: string | undefined;
    try {
      text = await readFile(marker, 'utf8');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (text === undefined) {
      if (!options.create) {
        throw new UserError(
          `${dir} is not an OCI image layout (no oci-layout file): run cache-images pull first`,
          {
            file: dir,
          },
        );
      }
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
      await writeFileAtomic(marker, JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
    } else {
      let version: unknown;
      try {
        version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
      } catch {
        version = undefined;
      }
      if (version !== LAYOUT_VERSION) {
        throw new UserError(`${marker}: unsupported OCI layout version ${JSON.stringify(version)}`, {
          file: marker,
        });
      }
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    }
    return store;
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  /** True when the blob is present with the expected size (content was verified when written). */
  async hasBlob(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    try {
      const s = await stat(this.blobPath(desc.digest));
      return s.isFile() && s.size === desc.size;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** True when the blob is present and its bytes hash to its name (reads the whole blob). */
  async verifyBlob(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<boolean> {
    if (!(await this.hasBlob(desc))) return false;
    const hash = newDigester();
    for await (const chunk of this.openBlob(desc.digest) as AsyncIterable<Buffer>) hash.update(chunk);
    if (`sha256:${hash.digest('hex')}` === desc.digest) return true;
    // A damaged blob is worse than a missing one: remove it so it is fetched again.
    await rm(this.blobPath(desc.digest), { force: true });
    return false;
  }

  /**
   * Removes every blob not in `keep`, so a layout (and a cache saved from it) holds only
   * what the requested images need. Returns what was removed.
   */
  async removeBlobsExcept(keep: Set<string>): Promise<{ blobs: number; bytes: number }> {
    const dir = join(this.dir, 'blobs', 'sha256');
    let blobs = 0;
    let bytes = 0;
    for (const name of await readdir(dir)) {
      if (!/^[a-f0-9]{64}$/.test(name) || keep.has(`sha256:${name}`)) continue;
      const path = join(dir, name);
      bytes += (await stat(path)).size;
      await rm(path, { force: true });
      blobs++;
    }
    return { blobs, bytes };
  }

  /** Removes temporary files left by runs that were killed (their process is gone). */
  async removeAbandonedTemporaries(): Promise<void> {
    for (const dir of [this.dir, join(this.dir, 'blobs', 'sha256')]) {
      for (const name of await readdir(dir)) {
        const owner = temporaryOwner(name);
        if (owner !== undefined && !processAlive(owner)) await rm(join(dir, name), { force: true });
      }
    }
  }

  /** Size of a stored blob, or undefined when absent. */
  async blobSize(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async readBlob(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  openBlob(digest: string, highWaterMark = 1 << 20): Readable {
    return createReadStream(this.blobPath(digest), { highWaterMark });
  }

  /** Stores small, already-received bytes (manifests, configs) after checking their digest. */
  async putBytes(digest: string, bytes: Uint8Array): Promise<void> {
    const actual = sha256Digest(bytes);
    if (actual !== digest) throw new BlobMismatchError(`content hashes to ${actual}, expected ${digest}`);
    await writeFileAtomic(this.blobPath(digest), bytes);
  }

  /** A writer for one blob: bytes go to a temporary name and appear only once verified. */
  async createBlobWriter(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<BlobWriter> {
    const final = this.blobPath(desc.digest);
    const tmp = temporarySibling(final);
    return new BlobWriter(desc, await open(tmp, 'w'), tmp, final);
  }

  async readIndex(): Promise<ImageIndex> {
    const file = join(this.dir, 'index.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return emptyIndex();
      throw err;
    }
    try {
      const index = JSON.parse(text) as ImageIndex;
      if (!Array.isArray(index.manifests)) throw new Error('no manifests');
      return index;
    } catch {
      throw new UserError(`${file} is not a valid OCI index: delete the layout and pull again`, { file });
    }
  }

  async writeIndex(manifests: Descriptor[]): Promise<void> {
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
    await writeFileAtomic(join(this.dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  }
}

/**
 * Receives one blob's bytes in order, hashing them as they arrive, so a download can resume
 * where it broke off (`written`) or start over (`reset`). Nothing is held in memory.
 */
export class BlobWriter {
  private hash: Hash = newDigester();
  /** Bytes received and hashed. */
  private size = 0;
  /** Received bytes not yet handed to the file, and where they go. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushedTo = 0;
  /** The one write in flight: the socket keeps being read while the disk writes. */
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private readonly desc: Pick<Descriptor, 'digest' | 'size'>,
    private readonly fh: FileHandle,
    private readonly tmp: string,
    private readonly final: string,
  ) {}

  /** Bytes received so far: the offset to resume from. */
  get written(): number {
    return this.size;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.size + chunk.length > this.desc.size) {
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
    await this.inflight;
    if (this.pendingBytes === 0) return;
    const buffers = this.pending;
    const at = this.flushedTo;
    this.flushedTo += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const write = writeAllAt(this.fh, buffers, at);
    // Handled here so a failure waits for the next flush or commit to be reported, not crash the process.
    write.catch(() => undefined);
    this.inflight = write;
  }

  /** Forgets what was received (the server restarted from byte 0). */
  async reset(): Promise<void> {
    await this.inflight;
    this.hash = newDigester();
    this.size = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.flushedTo = 0;
    await this.fh.truncate(0);
  }

  /** Checks size and digest, then renames the blob into place. */
  async commit(): Promise<void> {
    await this.flush();
    await this.inflight;
    await this.fh.close();
    if (this.size !== this.desc.size)
      throw new BlobMismatchError(`received ${this.size} bytes, expected ${this.desc.size}`);
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.desc.digest)
      throw new BlobMismatchError(`content hashes to ${actual}, expected ${this.desc.digest}`);
    await rename(this.tmp, this.final);
  }

  /** Removes the temporary file; the layout is as it was. */
  async abort(): Promise<void> {
    await this.inflight.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

/** Received bytes gathered before one write: few large writes instead of many small ones. */
const FLUSH_BYTES = 1 << 20;

async function writeAllAt(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest, at);
    at += bytesWritten;
    // A short write (rare): skip what was written and go on with the rest.
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}
