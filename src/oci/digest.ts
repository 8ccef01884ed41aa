import { createHash, type Hash } from 'node:crypto';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** True for the only digest algorithm registries use in practice (sha256). */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function newDigester(): Hash {
  return createHash('sha256');
}

/** The hex part of a sha256 digest: the blob's file name in a layout. */
export function digestHex(digest: string): string {
  if (!isDigest(digest))
    throw new Error(`unsupported digest ${JSON.stringify(digest)} (only sha256 is supported)`);
  return digest.slice('sha256:'.length);
}

export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
