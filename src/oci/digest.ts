import { createHash, type Hash } from 'node:crypto';
import { UserError } from '../util/errors.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
/** The digest grammar of the OCI spec: `algorithm:encoded`. */
const ANY_DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):[a-zA-Z0-9=_-]+$/;

/** True for the only digest algorithm registries use in practice (sha256). */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** The algorithm of a well-formed digest of any algorithm (`sha512`), else undefined. */
export function digestAlgorithm(value: string): string | undefined {
  return ANY_DIGEST_RE.exec(value)?.[1];
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
    throw new UserError(`unsupported digest ${JSON.stringify(digest)} (only sha256 is supported)`, {
      code: 'unsupported',
      blob: digest,
    });
  return digest.slice('sha256:'.length);
}

export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
