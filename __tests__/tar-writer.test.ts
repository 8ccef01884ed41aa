import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { encodeUstar, entryHeader, USTAR_MAX_SIZE } from '../src/archive/tar-headers.js';
import type { TarSink } from '../src/archive/tar-sink.js';
import { TarWriter } from '../src/archive/tar-writer.js';
import { UserError } from '../src/util/errors.js';

async function writeSample(path: string): Promise<void> {
  const tar = await TarWriter.create(path);
  await tar.addBytes('manifest.json', Buffer.from('[]'));
  await tar.addDirectory('blobs');
  const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x61);
  await tar.addStream('blobs/big', big.length, Readable.from([big.subarray(0, 1000), big.subarray(1000)]));
  await tar.finish();
}

const MiB = 1 << 20;
/** The generated entry data: one zero chunk handed out again and again, so nothing is stored. */
const DATA = Buffer.alloc(MiB);
const BIG = 8 * 1024 * MiB + 1;

function* zeros(size: number): Generator<Buffer> {
  for (let left = size; left > 0; left -= MiB) yield left >= MiB ? DATA : DATA.subarray(0, left);
}

/**
 * Counts every byte and keeps only what is not the generated data (headers, PAX records,
 * padding) by position, so the archive can be rebuilt as a sparse file for GNU tar.
 */
class CountingSink implements TarSink {
  bytes = 0;
  kept: [number, Buffer][] = [];
  finished = false;
  async write(chunks: Uint8Array[]) {
    for (const c of chunks) {
      if (c.buffer !== DATA.buffer) this.kept.push([this.bytes, Buffer.from(c)]);
      this.bytes += c.length;
    }
  }
  async writeAt(chunks: Uint8Array[], position: number) {
    this.kept.push([position, Buffer.concat(chunks)]);
  }
  skip(bytes: number) {
    this.bytes += bytes;
  }
  async finish() {
    this.finished = true;
  }
  async abort() {}

  /** The archive's bytes as a sparse file: the data is zeros, so holes are exact. */
  async sparseFile(path: string): Promise<void> {
    const fh = await open(path, 'w');
    for (const [at, bytes] of this.kept) await fh.write(bytes, 0, bytes.length, at);
    await fh.truncate(this.bytes);
    await fh.close();
  }
}

/** Runs `write` while sampling RSS; returns the seconds taken and the peak RSS growth. */
async function measured(write: () => Promise<void>): Promise<{ seconds: number; peakGrowth: number }> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = performance.now();
  try {
    await write();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return { seconds: (performance.now() - started) / 1000, peakGrowth: peak - before };
}

describe('TarWriter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tar-writer-'));

  test('GNU tar reads every entry back with its exact content and fixed metadata', async () => {
    const path = join(dir, 'a.tar');
    await writeSample(path);
    const listing = execFileSync('tar', ['-tvf', path, '--numeric-owner'], { encoding: 'utf8' });
    expect(listing).toMatch(/-rw-r--r-- 0\/0\s+2 1970-01-01 00:00 manifest.json/);
    expect(listing).toMatch(/drwxr-xr-x 0\/0\s+0 1970-01-01 00:00 blobs\//);
    expect(listing).toMatch(/-rw-r--r-- 0\/0\s+3145735 1970-01-01 00:00 blobs\/big/);
    const out = join(dir, 'x');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', path, '-C', out]);
    expect(readFileSync(join(out, 'blobs/big')).equals(Buffer.alloc(3 * 1024 * 1024 + 7, 0x61))).toBe(true);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe('[]');
  });

  test('the same entries give byte-identical archives', async () => {
    await writeSample(join(dir, 'b1.tar'));
    await writeSample(join(dir, 'b2.tar'));
    expect(readFileSync(join(dir, 'b1.tar')).equals(readFileSync(join(dir, 'b2.tar')))).toBe(true);
  });

  test('a short source fails the entry and abort leaves no file behind', async () => {
    const sub = mkdtempSync(join(dir, 'short-'));
    const tar = await TarWriter.create(join(sub, 'c.tar'));
    await expect(tar.addStream('x', 10, Readable.from([Buffer.from('abc')]))).rejects.toThrow(
      /expected 10 bytes, read 3/,
    );
    await tar.abort();
    expect(readdirSync(sub)).toEqual([]);
  });

  test('a ustar header up to 8 GiB - 1, a PAX size record from 8 GiB on', () => {
    const at = (size: number) => entryHeader({ path: 'blobs/sha256/x', type: 'File', mode: 0o644, size });
    expect(at(USTAR_MAX_SIZE)).toHaveLength(512);
    const pax = at(USTAR_MAX_SIZE + 1);
    expect(pax).toHaveLength(3 * 512);
    expect(String.fromCharCode(pax[156] as number)).toBe('x');
    expect(pax.subarray(512, 1024).toString().replace(/\0+$/, '')).toBe('19 size=8589934592\n');
  });

  test.each([
    ['of known size (a big blob)', false],
    ['of unknown size (a layer being decompressed)', true],
  ])(
    'an entry of more than 8 GiB %s: streamed with flat memory, listed by GNU tar with its size',
    async (_what, unsized) => {
      const sink = new CountingSink();
      const { seconds, peakGrowth } = await measured(async () => {
        const tar = new TarWriter(sink);
        await tar.addBytes('manifest.json', Buffer.from('[]'));
        const name = 'blobs/sha256/big';
        if (unsized) expect(await tar.addUnsizedStream(name, zeros(BIG))).toBe(BIG);
        else await tar.addStream(name, BIG, zeros(BIG));
        await tar.addBytes('after', Buffer.from('still aligned'));
        await tar.finish();
      });
      process.stderr.write(
        `8 GiB + 1 entry (${unsized ? 'unsized' : 'sized'}): ${seconds.toFixed(2)} s, peak RSS growth ${(peakGrowth / MiB).toFixed(1)} MiB\n`,
      );
      expect(peakGrowth).toBeLessThan(64 * MiB);
      expect(sink.finished).toBe(true);
      // 3 entries with headers (the big one behind a PAX header), padding, two end blocks.
      expect(sink.bytes).toBe(512 + 512 + 3 * 512 + BIG + 511 + 512 + 512 + 1024);
      const sparse = join(dir, `big-${unsized}.tar`);
      await sink.sparseFile(sparse);
      const listing = execFileSync('tar', ['-tvf', sparse, '--numeric-owner'], { encoding: 'utf8' });
      expect(listing.trim().split('\n')).toEqual([
        expect.stringMatching(/^-rw-r--r-- 0\/0\s+2 1970-01-01 00:00 manifest.json$/),
        expect.stringMatching(/^-rw-r--r-- 0\/0\s+8589934593 1970-01-01 00:00 blobs\/sha256\/big$/),
        expect.stringMatching(/^-rw-r--r-- 0\/0\s+13 1970-01-01 00:00 after$/),
      ]);
      expect(execFileSync('tar', ['-xOf', sparse, 'after'], { encoding: 'utf8' })).toBe('still aligned');
    },
    120_000,
  );

  describe('file-system failures: one line naming the archive, nothing left behind', () => {
    test('a directory in the way fails before anything is written', async () => {
      const sub = mkdtempSync(join(dir, 'isdir-'));
      mkdirSync(join(sub, 'a.tar'));
      const err = await TarWriter.create(join(sub, 'a.tar')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).located).toBe(
        `${join(sub, 'a.tar')}: cannot write the archive: a directory is in the way (EISDIR); name a file, not a directory`,
      );
      expect((err as UserError).code).toBe('file-system');
      expect(readdirSync(sub)).toEqual(['a.tar']);
    });
  });
});

describe('ustar headers', () => {
  test('filled from a template, byte for byte what node-tar encodes', () => {
    const sizes = [0, 1, 511, 512, 3145735, 0o7777777777, 0o10000000000, USTAR_MAX_SIZE];
    const paths = [
      'manifest.json',
      `blobs/sha256/${'a'.repeat(64)}`,
      `blobs/sha256/PaxHeaders.0/${'b'.repeat(64)}`,
    ];
    for (const path of paths) {
      for (const size of sizes) {
        const entry = { path, type: 'File' as const, mode: 0o644, size };
        expect(entryHeader(entry).equals(encodeUstar(entry))).toBe(true);
      }
      const dir = { path: `${path}/`, type: 'Directory' as const, mode: 0o755, size: 0 };
      expect(entryHeader(dir).equals(encodeUstar(dir))).toBe(true);
    }
  });
});

describe('small files read into the buffer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tar-small-'));
  test('of unknown size, small or not, and one that is not the size promised', async () => {
    const small = join(dir, 'small');
    const big = join(dir, 'big');
    writeFileSync(small, 'x'.repeat(1000));
    writeFileSync(big, Buffer.alloc(3 * MiB, 0x62));
    const path = join(dir, 'a.tar');
    const tar = await TarWriter.create(path);
    await tar.addSmallFile('small', small);
    await tar.addSmallFile('big', big);
    await tar.finish();
    const listing = execFileSync('tar', ['-tvf', path], { encoding: 'utf8' });
    expect(listing).toMatch(/ 1000 1970-01-01 00:00 small\n.* 3145728 1970-01-01 00:00 big\n$/);
    expect(execFileSync('tar', ['-xOf', path, 'big'], { maxBuffer: 8 * MiB }).equals(readFileSync(big))).toBe(
      true,
    );
    const again = await TarWriter.create(join(dir, 'b.tar'));
    await expect(again.addSmallFile('small', small, 999)).rejects.toThrow(
      /expected 999 bytes, read 1000 or more/,
    );
    await again.abort();
  });
});
