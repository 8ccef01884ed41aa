import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newDigester } from '../oci/digest.js';
import { codecOf, decompressor } from '../archive/layer-decompress.js';
import { UserError } from '../util/errors.js';
import type { ImageFiles } from './image-files.js';
import type { ImageBlob, Inspection } from './inspect-images.js';

/** A stream stage that hashes what passes through. */
function hashing(): { stage: Transform; digest: () => string; bytes: () => number } {
  const hash = newDigester();
  let bytes = 0;
  const stage = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stage, digest: () => `sha256:${hash.digest('hex')}`, bytes: () => bytes };
}

/** The end of a pipeline whose bytes were only wanted for their hash. */
async function discard(source: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of source) void _;
}

/**
 * Streams `blob` once: its stored bytes against `digest`, and, when only the uncompressed
 * digest is known (docker-archive layers), its decompressed bytes against `diffId`.
 */
async function checkBlob(files: ImageFiles, blob: ImageBlob) {
  const stored = hashing();
  if (blob.digest || !blob.diffId) {
    await pipeline(files.stream(blob.path), stored.stage, discard);
    return { stored: stored.digest(), size: stored.bytes() };
  }
  const inflate = decompressor(codecOf(await files.readRange(blob.path, 0, 4)), blob.path);
  if (!inflate) {
    // An uncompressed layer: its stored bytes are the ones diff_id names.
    await pipeline(files.stream(blob.path), stored.stage, discard);
    const digest = stored.digest();
    return { stored: digest, unpacked: digest, size: stored.bytes() };
  }
  const unpacked = hashing();
  await pipeline(files.stream(blob.path), stored.stage, inflate, unpacked.stage, discard);
  return { stored: stored.digest(), unpacked: unpacked.digest(), size: stored.bytes() };
}

/**
 * Re-hashes every blob of every image, each once, streaming. The first one that does not match
 * is one error naming the image and the blob.
 */
export async function verifyImages(files: ImageFiles, inspection: Inspection): Promise<number> {
  const checked = new Set<string>();
  for (const image of inspection.images) {
    const label = image.references[0] ?? image.digest ?? image.id;
    for (const blob of image.blobs) {
      if (checked.has(blob.path)) continue;
      checked.add(blob.path);
      const damaged = (why: string) =>
        new UserError(`image ${label}: ${blob.digest ?? blob.path} is damaged: ${why}`, {
          code: 'damaged',
          file: files.where,
          image: label,
          blob: blob.digest ?? blob.diffId,
        });
      let result;
      try {
        result = await checkBlob(files, blob);
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw damaged(`it cannot be read back (${(err as Error).message})`);
      }
      if (result.size !== blob.size) throw damaged(`it holds ${result.size} bytes, expected ${blob.size}`);
      if (blob.digest && result.stored !== blob.digest) throw damaged(`its bytes hash to ${result.stored}`);
      if (result.unpacked && result.unpacked !== blob.diffId)
        throw damaged(
          `${blob.path} unpacks to ${result.unpacked}, but the image config says diff_id ${blob.diffId}`,
        );
    }
  }
  return checked.size;
}
