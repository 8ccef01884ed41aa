import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Descriptor, ImageIndex } from '../oci/documents.js';
import { digestHex, newDigester, sha256Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { UserError } from '../util/errors.js';
import { isNotFound, temporarySibling, writeFileAtomic } from '../util/fs.js';

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

  /**
   * Streams a blob to disk, hashing as bytes arrive; memory use does not depend on its size.
   * Renamed into place only when size and digest match; otherwise nothing is left behind.
   */
  async putStream(desc: Pick<Descriptor, 'digest' | 'size'>, source: Readable): Promise<void> {
    const final = this.blobPath(desc.digest);
    const tmp = temporarySibling(final);
    const hash = newDigester();
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > desc.size) {
          done(new BlobMismatchError(`received more than the ${desc.size} bytes expected`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp));
      if (size !== desc.size) throw new BlobMismatchError(`received ${size} bytes, expected ${desc.size}`);
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== desc.digest)
        throw new BlobMismatchError(`content hashes to ${actual}, expected ${desc.digest}`);
      await rename(tmp, final);
    } catch (err) {
      source.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
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

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}
