import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TarWriter } from '../src/archive/tar-writer.js';

async function writeSample(path: string): Promise<void> {
  const tar = await TarWriter.create(path);
  await tar.addBytes('manifest.json', Buffer.from('[]'));
  await tar.addDirectory('blobs');
  const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x61);
  await tar.addStream('blobs/big', big.length, Readable.from([big.subarray(0, 1000), big.subarray(1000)]));
  await tar.finish();
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
});
