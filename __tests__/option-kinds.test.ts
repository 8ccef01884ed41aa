import { describe, expect, test } from '@jest/globals';
import { duration, integer, keyValues } from '../src/options/kinds.js';
import { UserError } from '../src/util/errors.js';
import { closest } from '../src/util/suggest.js';

describe('values', () => {
  test.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['90', 90_000],
  ])('duration %s is %d ms', (text, ms) => {
    expect(duration.parse([text])).toBe(ms);
  });

  test.each(['', 'soon', '10 minutes', '-1s', '1d'])('duration %j is refused', (text) => {
    expect(() => duration.parse([text])).toThrow(UserError);
  });

  test('a single value given twice is refused, naming both', () => {
    expect(() => integer(1, 64).parse(['4', '8'])).toThrow('given 2 times (4, 8); it takes one value');
  });

  test('KEY=VALUE pairs', () => {
    expect(keyValues('PATH=DIR').parse(['a/b=./c', ' x = y '])).toEqual({ 'a/b': './c', x: 'y' });
    expect(() => keyValues('PATH=DIR').parse(['a/b'])).toThrow('expects PATH=DIR, got "a/b"');
  });
});

describe('suggestions', () => {
  test.each([
    ['platfrom', 'platform'],
    ['layuot', 'layout'],
    ['concurency', 'concurrency'],
    ['archve', 'archive'],
    ['zzz', undefined],
    ['pul', 'pull'],
  ])('%s -> %s', (word, meant) => {
    expect(
      closest(word, ['platform', 'layout', 'concurrency', 'archive', 'archive-dir', 'pull', 'list']),
    ).toBe(meant);
  });
});
