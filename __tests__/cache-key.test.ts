import { describe, expect, test } from '@jest/globals';
import { cacheKey, restoreKeyPrefix, shouldSave, type CacheHit, type CacheMode } from '../src/cache/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const arm64 = { os: 'linux', architecture: 'arm64' };

describe('cacheKey', () => {
  const pairs = [
    { reference: 'b:1', digest: d('b') },
    { reference: 'a:1', digest: d('a') },
  ];

  test('depends on the set of pairs, not their order', () => {
    expect(cacheKey(pairs, arm64)).toBe(cacheKey([...pairs].reverse(), arm64));
  });

  test('a moved tag, an added image or another platform gives another key', () => {
    const key = cacheKey(pairs, arm64);
    expect(cacheKey([pairs[0]!, { reference: 'a:1', digest: d('c') }], arm64)).not.toBe(key);
    expect(cacheKey([...pairs, { reference: 'c:1', digest: d('c') }], arm64)).not.toBe(key);
    expect(cacheKey(pairs, { os: 'linux', architecture: 'arm', variant: 'v7' })).not.toBe(key);
  });

  test('names prefix and platform, normalised, so a prefix restore finds older layouts of that platform', () => {
    const key = cacheKey(pairs, { os: 'linux', architecture: 'aarch64' }, 'os');
    expect(key).toMatch(/^os-linux-arm64-[0-9a-f]{32}$/);
    expect(cacheKey(pairs, { os: 'linux', architecture: 'arm' })).toMatch(/^cache-images-linux-arm-v7-/);
    expect(restoreKeyPrefix(key)).toBe('os-linux-arm64-');
  });
});

describe('shouldSave', () => {
  test.each([
    ['miss', 'read-write', true],
    ['prefix', 'read-write', true],
    ['exact', 'read-write', false],
    ['unavailable', 'read-write', false],
    ['miss', 'restore-only', false],
    ['prefix', 'restore-only', false],
  ] as [CacheHit, CacheMode, boolean][])('%s in %s mode: %s', (hit, mode, expected) => {
    expect(shouldSave(hit, mode)).toBe(expected);
  });
});
