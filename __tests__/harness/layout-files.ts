import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Blob, TestImage } from './test-images.js';

/**
 * Writes an OCI image layout of `images` straight to disk, as a pull leaves it (every blob of
 * every platform, index.json annotated with the reference), without a registry.
 */
export function writeLayout(dir: string, images: [string, TestImage][]): { blobs: number; bytes: number } {
  const blobsDir = join(dir, 'blobs', 'sha256');
  mkdirSync(blobsDir, { recursive: true });
  const written = new Map<string, number>();
  const put = (b: Blob) => {
    if (written.has(b.digest)) return;
    writeFileSync(join(blobsDir, b.digest.slice(7)), b.bytes);
    written.set(b.digest, b.size);
  };
  const manifests = images.map(([reference, image]) => {
    for (const b of [image.top, ...image.children, ...image.blobs]) put(b);
    return {
      mediaType: image.top.mediaType,
      digest: image.top.digest,
      size: image.top.size,
      annotations: { 'org.opencontainers.image.ref.name': reference, 'io.containerd.image.name': reference },
    };
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  let bytes = 0;
  for (const size of written.values()) bytes += size;
  return { blobs: written.size, bytes };
}
