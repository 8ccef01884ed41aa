import { describe, expect, test } from '@jest/globals';
import { formatPlatform, parsePlatform, platformSlug } from '../src/oci/platform.js';
import { UserError } from '../src/util/errors.js';

describe('platform aliases users write in matrices', () => {
  test.each([
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    [' linux/riscv64 ', 'linux/riscv64'],
  ])('%s is %s', (text, expected) => {
    expect(formatPlatform(parsePlatform(text))).toBe(expected);
  });

  test.each([
    ['linux/armv7', 'did you mean linux/arm/v7?'],
    ['linux/armv7l', 'did you mean linux/arm/v7?'],
    ['linux/armv6', 'did you mean linux/arm/v6?'],
    ['linux/arm64/v7', 'did you mean linux/arm/v7?'],
    ['linux/arm/v8', ''],
    ['linux/arm/v9', 'unknown variant v9 of arm (known: v5, v6, v7, v8)'],
    ['linux/riscv64/v2', 'unknown variant v2 of riscv64 (it has none)'],
    ['linux/amd46', 'did you mean linux/amd64?'],
    ['linus/arm64', 'unknown OS linus: did you mean linux/arm64?'],
    ['arm64', 'did you mean linux/arm64?'],
    ['aarch64', 'did you mean linux/arm64?'],
    ['linux/x64', 'did you mean linux/amd64?'],
    ['linux/i386', 'did you mean linux/386?'],
  ])('%s: %s', (text, suggestion) => {
    if (!suggestion) {
      expect(formatPlatform(parsePlatform(text))).toBe(text);
      return;
    }
    let error: unknown;
    try {
      parsePlatform(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(`invalid platform ${JSON.stringify(text)}: ${suggestion}`);
    expect((error as UserError).option).toBe('platform');
  });

  test('slugs name platforms without slashes', () => {
    expect(platformSlug(parsePlatform('linux/armhf'))).toBe('linux-arm-v7');
    expect(platformSlug(parsePlatform('linux/aarch64'))).toBe('linux-arm64');
  });
});
