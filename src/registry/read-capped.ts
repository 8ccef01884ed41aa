/** Thrown when a document's body grows past its cap; the caller names the document. */
export class TooLargeError extends Error {
  constructor(readonly cap: number) {
    super(`larger than ${cap} bytes`);
    this.name = 'TooLargeError';
  }
}

interface Body extends AsyncIterable<Uint8Array> {
  destroy(err?: Error): unknown;
}

/**
 * Reads a whole body into memory, at most `cap` bytes. The cap is enforced as bytes arrive,
 * not only by Content-Length: an endless chunked body is dropped as soon as it passes the cap.
 */
export async function readCapped(body: Body, cap: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > cap) {
      body.destroy();
      throw new TooLargeError(cap);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
