import { describe, expect, test } from '@jest/globals';
import type { Descriptor } from '../src/oci/documents.js';
import { availablePlatforms, formatPlatform, parsePlatform, selectPlatform } from '../src/oci/platform.js';
import { UserError } from '../src/util/errors.js';

const d = (platform: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(Math.random()).slice(2).padEnd(64, '0').slice(0, 64)}`,
  size: 1,
  platform,
  annotations,
});

describe('platforms', () => {
  test.each([
    ['linux/arm64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/x86_64', 'linux/amd64'],
    ['Linux/AMD64', 'linux/amd64'],
  ])('%s normalises to %s', (text, expected) => {
    expect(formatPlatform(parsePlatform(text))).toBe(expected);
  });

  test.each(['linux', 'linux/', 'a/b/c/d', 'linux/arm 64'])('%j is a usage error', (text) => {
    expect(() => parsePlatform(text)).toThrow(UserError);
  });

  const index = [
    d({ os: 'linux', architecture: 'amd64' }),
    d({ os: 'linux', architecture: 'arm64', variant: 'v8' }),
    d({ os: 'linux', architecture: 'arm', variant: 'v7' }),
    d({ os: 'linux', architecture: 'arm', variant: 'v6' }),
    d({ os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
  ];

  test('selects by normalised os/architecture/variant', () => {
    expect(selectPlatform(index, parsePlatform('linux/arm64'))).toBe(index[1]);
    expect(selectPlatform(index, parsePlatform('linux/arm/v7'))).toBe(index[2]);
    expect(selectPlatform(index, parsePlatform('linux/arm'))).toBe(index[2]);
    expect(selectPlatform(index, parsePlatform('linux/arm/v6'))).toBe(index[3]);
    expect(selectPlatform(index, parsePlatform('linux/riscv64'))).toBeUndefined();
  });

  test('attestation entries are never chosen nor offered', () => {
    expect(selectPlatform(index, { os: 'unknown', architecture: 'unknown' })).toBeUndefined();
    expect(availablePlatforms(index)).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6']);
  });
});
