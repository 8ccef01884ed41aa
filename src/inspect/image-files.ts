import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { UserError } from '../util/errors.js';
import { MAX_DOCUMENT_BYTES } from '../oci/parse.js';
import { isNotFound } from '../util/fs.js';
import { readTarIndex } from './tar-index.js';

/**
 * The files of an image archive or an OCI layout, by their path inside it: the one view the
 * inspector reads both through. Blobs are streamed, never held whole.
 */
export interface ImageFiles {
  /** The archive or layout, as the user named it. */
  readonly where: string;
  size(name: string): Promise<number | undefined>;
  /** A whole small file (a document), refused above MAX_DOCUMENT_BYTES. */
  read(name: string): Promise<Buffer>;
  /** `length` bytes from `start` (the first bytes, to tell a layer's compression). */
  readRange(name: string, start: number, length: number): Promise<Buffer>;
  stream(name: string): Readable;
}

/** The files inside a tar, found by one pass over its headers. */
export async function archiveFiles(path: string): Promise<ImageFiles> {
  let index;
  try {
    index = await readTarIndex(path);
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (isNotFound(err)) throw new UserError('no such archive', { code: 'invalid-input', file: path });
    const code = (err as NodeJS.ErrnoException).code;
    // A directory, a permission: the archive cannot be read at all.
    if (code) throw new UserError(`cannot read the archive (${code})`, { code: 'invalid-input', file: path });
    throw err;
  }
  const entry = (name: string) => {
    const e = index.get(name);
    if (!e) throw new UserError(`${name} is not in the archive`, { code: 'malformed', file: path });
    return e;
  };
  const readRange = async (name: string, start: number, length: number) => {
    const e = entry(name);
    const fh = await open(path, 'r');
    try {
      const bytes = Buffer.alloc(Math.max(0, Math.min(length, e.size - start)));
      await fh.read(bytes, 0, bytes.length, e.offset + start);
      return bytes;
    } finally {
      await fh.close();
    }
  };
  return {
    where: path,
    size: async (name) => index.get(name)?.size,
    read: async (name) => readRange(name, 0, documentSize(path, name, entry(name).size)),
    readRange,
    stream: (name) => {
      const e = entry(name);
      // An empty range: createReadStream's end is inclusive.
      if (!e.size) return createReadStream(path, { start: 1, end: 0 });
      return createReadStream(path, { start: e.offset, end: e.offset + e.size - 1, highWaterMark: 1 << 20 });
    },
  };
}

/** The files of an OCI image layout directory. */
export async function layoutFiles(dir: string): Promise<ImageFiles> {
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory())
    throw new UserError('no such layout directory', { code: 'invalid-input', file: dir });
  const size = async (name: string) => {
    try {
      const f = await stat(join(dir, name));
      return f.isFile() ? f.size : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const readRange = async (name: string, start: number, length: number) => {
    const fh = await open(join(dir, name), 'r');
    try {
      const bytes = Buffer.alloc(length);
      const { bytesRead } = await fh.read(bytes, 0, length, start);
      return bytes.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  };
  return {
    where: dir,
    size,
    read: async (name) => {
      const n = await size(name);
      if (n === undefined) throw new UserError(`${name} is not in the layout`, { code: 'layout', file: dir });
      return readRange(name, 0, documentSize(dir, name, n));
    },
    readRange,
    stream: (name) => createReadStream(join(dir, name), { highWaterMark: 1 << 20 }),
  };
}

function documentSize(where: string, name: string, size: number): number {
  if (size > MAX_DOCUMENT_BYTES) {
    throw new UserError(`${name} holds ${size} bytes, more than a document's ${MAX_DOCUMENT_BYTES}`, {
      code: 'too-large',
      file: where,
    });
  }
  return size;
}
