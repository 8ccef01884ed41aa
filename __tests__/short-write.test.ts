import { describe, expect, test } from '@jest/globals';
import { unwritten } from '../src/util/short-write.js';

const b = (s: string) => Buffer.from(s);
const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString();

describe('unwritten (what a short vectored write left)', () => {
  test.each([
    [0, 'abcdefgh'],
    [1, 'bcdefgh'],
    [3, 'defgh'],
    [4, 'efgh'],
    [7, 'h'],
    [8, ''],
  ])('after %i of 8 bytes: %j', (written, rest) => {
    expect(text(unwritten([b('abc'), b('d'), b('efgh')], written))).toBe(rest);
  });

  test('whole chunks are passed on as they are, a cut one as a view (no copy)', () => {
    const chunks = [b('abc'), b('defg')];
    const rest = unwritten(chunks, 1);
    expect(rest[1]).toBe(chunks[1]);
    expect(rest[0]?.buffer).toBe(chunks[0]?.buffer);
  });

  test('a loop writing what is left ends with every byte written once, whatever the kernel takes', () => {
    const source = Array.from({ length: 20 }, (_, i) => b(`chunk-${i};`));
    const out: Buffer[] = [];
    let rest = source;
    let step = 0;
    while (rest.length) {
      // A "kernel" that takes 1..13 bytes per call, never whole chunks in step.
      const take = Math.min(
        (step++ % 13) + 1,
        rest.reduce((n, c) => n + c.length, 0),
      );
      out.push(Buffer.concat(rest).subarray(0, take));
      rest = unwritten(rest, take);
    }
    expect(text(out)).toBe(text(source));
  });
});
