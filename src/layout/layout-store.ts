import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Descriptor, ImageIndex } from '../oci/documents.js';
import { digestHex, newDigester, sha256Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { UserError } from '../util/errors.js';
import {
  commitTemporary,
  discardTemporary,
  isNotFound,
  makeFolder,
  onFile,
  removeAbandonedTemporaries,
  temporarySibling,
  writeFileAtomic,
} from '../util/fs.js';
import { BlobMismatchError, BlobWriter, isClaimed, openBlobWriter } from './blob-writer.js';

export { BlobMismatchError, BlobWriter };
export type { BlobMirror } from './blob-writer.js';

const LAYOUT_VERSION = '1.0.0';
const MARKER = JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION });
/** Partly downloaded blobs, named by digest: outside blobs/ so OCI readers never see them. */
const PARTIAL_DIR = '.partial-blobs';
/** A partial file untouched this long belongs to no run that will come back for it. */
const PARTIAL_MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * An OCI image layout on disk: content-addressed blobs, `oci-layout` and `index.json`.
 * Every write goes to a temporary or partial name and is renamed into place only once
 * verified, so the layout never holds a blob whose bytes differ from its name, and from its
 * creation on it is a valid layout (an empty index) that OCI readers open.
 * Callers hold the LayoutLock while they change it.
 */
export class LayoutStore {
  private constructor(readonly dir: string) {}

  /** Opens a layout, creating it when `create` is set. */
  static async open(dir: string, options: { create: boolean }): Promise<LayoutStore> {
    const store = new LayoutStore(dir);
    const marker = join(dir, 'oci-layout');
    if (options.create) await createSkeleton(dir);
    let text: string | undefined;
    try {
      text = await onFile(marker, () => readFile(marker, 'utf8'));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (text === undefined) {
      throw new UserError(`${dir} is not an OCI image layout (no oci-layout file)`, {
        file: dir,
        code: 'layout',
      });
    }
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
   * what the requested images need, and every partial download nothing needs any more (its
   * digest not in `keep`, or its blob complete). Run it with the LayoutLock held: no other
   * process is then using any of it, and partials this process is still writing are left.
   * Returns what was removed.
   */
  async removeBlobsExcept(
    keep: Set<string>,
  ): Promise<{ blobs: number; bytes: number; partials: number; partialBytes: number }> {
    let blobs = 0;
    let bytes = 0;
    for (const name of await readdir(this.blobDir())) {
      if (!/^[a-f0-9]{64}$/.test(name) || keep.has(`sha256:${name}`)) continue;
      bytes += await this.removeFile(join(this.blobDir(), name));
      blobs++;
    }
    let partials = 0;
    let partialBytes = 0;
    for (const name of await this.partialNames()) {
      const digest = `sha256:${name}`;
      if (keep.has(digest) && (await this.blobSize(digest)) === undefined) continue;
      if (isClaimed(this.partialPath(digest))) continue;
      partialBytes += await this.removeFile(this.partialPath(digest));
      partials++;
    }
    return { blobs, bytes, partials, partialBytes };
  }

  /**
   * Removes temporary files left by runs that were killed (their process is gone), and partial
   * downloads untouched for `partialMaxAgeMs` (default 7 days). Partials of recent runs stay:
   * the next pull of that blob continues them.
   */
  async removeAbandonedTemporaries(options: { partialMaxAgeMs?: number } = {}): Promise<void> {
    for (const dir of [this.dir, this.blobDir()]) await removeAbandonedTemporaries(dir);
    // A run killed while creating the layout or its lock left these next to it.
    const name = basename(this.dir);
    await removeAbandonedTemporaries(dirname(this.dir), (t) => t === name || t.startsWith(`.${name}.lock`));
    const oldest = Date.now() - (options.partialMaxAgeMs ?? PARTIAL_MAX_AGE_MS);
    for (const name of await this.partialNames()) {
      const path = this.partialPath(`sha256:${name}`);
      if (isClaimed(path)) continue;
      const s = await stat(path).catch(() => undefined);
      if (s && s.mtimeMs < oldest) await rm(path, { force: true });
    }
  }

  /** The partial file of a blob being downloaded; kept across runs so a download resumes. */
  partialPath(digest: string): string {
    return join(this.dir, PARTIAL_DIR, digestHex(digest));
  }

  /** Bytes of a blob a previous run left, or 0. */
  async partialSize(digest: string): Promise<number> {
    return (await stat(this.partialPath(digest)).catch(() => undefined))?.size ?? 0;
  }

  private blobDir(): string {
    return join(this.dir, 'blobs', 'sha256');
  }

  private async partialNames(): Promise<string[]> {
    try {
      return (await readdir(join(this.dir, PARTIAL_DIR))).filter((n) => /^[a-f0-9]{64}$/.test(n));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  /** Removes a file and returns its size (0 when it was already gone). */
  private async removeFile(path: string): Promise<number> {
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    await onFile(path, () => rm(path, { force: true }));
    return size;
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
   * A writer for one blob. Bytes go to the blob's partial file and appear under its name only
   * once verified. When a previous run left part of the blob, the writer starts after those
   * bytes (`written`), so the registry client asks for the rest with a Range request. One
   * writer per digest at a time: a second one (in this process) waits for the first.
   */
  async createBlobWriter(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<BlobWriter> {
    return openBlobWriter(desc, this.partialPath(desc.digest), this.blobPath(desc.digest));
  }

  async readIndex(): Promise<ImageIndex> {
    const file = join(this.dir, 'index.json');
    let text: string;
    try {
      text = await onFile(file, () => readFile(file, 'utf8'));
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

/**
 * Makes `dir` a valid layout with an empty index before any blob is written, so a run killed
 * at any instant leaves a layout OCI readers open. A new layout is built under a temporary
 * name and renamed into place whole; an existing folder gets what it lacks, index.json first
 * and the oci-layout marker last.
 */
async function createSkeleton(dir: string): Promise<void> {
  const index = `${JSON.stringify(emptyIndex(), null, 2)}\n`;
  const exists = await stat(dir).then(
    () => true,
    (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
  );
  if (!exists) {
    await onFile(dir, () => makeFolder(dirname(dir)));
    const tmp = temporarySibling(dir);
    try {
      await onFile(dir, async () => {
        await makeFolder(join(tmp, 'blobs', 'sha256'));
        await writeFile(join(tmp, 'index.json'), index);
        await writeFile(join(tmp, 'oci-layout'), MARKER);
        await commitTemporary(tmp, dir);
      });
      return;
    } catch (err) {
      await discardTemporary(tmp);
      // Another process made it first: complete it below like any existing folder.
      if (!(await stat(join(dir, 'oci-layout')).catch(() => undefined))) throw err;
    }
  }
  await onFile(dir, () => makeFolder(join(dir, 'blobs', 'sha256')));
  const indexFile = join(dir, 'index.json');
  if (!(await stat(indexFile).catch(() => undefined))) await writeFileAtomic(indexFile, index);
  const marker = join(dir, 'oci-layout');
  if (!(await stat(marker).catch(() => undefined))) await writeFileAtomic(marker, MARKER);
}
