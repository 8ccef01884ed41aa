import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarWriter } from '../src/archive/tar-writer.js';
import { archiveFiles } from '../src/inspect/image-files.js';
import { inspectImages } from '../src/inspect/inspect-images.js';
import { readTarIndex } from '../src/inspect/tar-index.js';
import { verifyImages } from '../src/inspect/verify-images.js';

const MiB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'inspect-archive-'));

describe('reading tars by their headers', () => {
  test.each(['gnu', 'pax', 'ustar'])('GNU tar --format=%s: long names, links and sizes', (format) => {
    const src = join(dir, `src-${format}`);
    const long = `${'d'.repeat(60)}/${'f'.repeat(60)}.tar`;
    mkdirSync(join(src, 'd'.repeat(60)), { recursive: true });
    writeFileSync(join(src, long), 'x'.repeat(1000));
    writeFileSync(join(src, 'short.json'), '{}');
    execFileSync('ln', ['-s', 'short.json', join(src, 'link.json')]);
    const archive = join(dir, `${format}.tar`);
    execFileSync('tar', [`--format=${format}`, '-cf', archive, '-C', src, '.']);
    return readTarIndex(archive).then((index) => {
      const bytes = readFileSync(archive);
      const entry = index.get(long);
      expect(entry?.size).toBe(1000);
      expect(bytes.subarray(entry?.offset, (entry?.offset ?? 0) + 1000).toString()).toBe('x'.repeat(1000));
      expect(index.get('link.json')).toEqual(index.get('short.json'));
    });
  });
});

describe('what is not an archive', () => {
  test.each([
    ['a missing file', join(dir, 'missing.tar'), 'no such archive'],
    ['a directory', dir, 'cannot read the archive (EISDIR)'],
  ])('%s: one line naming it', async (_what, path, message) => {
    await expect(archiveFiles(path)).rejects.toMatchObject({
      located: `${path}: ${message}`,
      code: 'invalid-input',
    });
  });
});

describe('inspect --verify streams', () => {
  test('a 256 MiB layer is checked against its diff_id with flat memory', async () => {
    const layer = Buffer.alloc(MiB);
    const count = 256;
    const hash = createHash('sha256');
    for (let i = 0; i < count; i++) hash.update(layer);
    const diffId = `sha256:${hash.digest('hex')}`;
    const config = Buffer.from(
      JSON.stringify({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }),
    );
    const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
    const archive = join(dir, 'big.tar');
    const tar = await TarWriter.create(archive);
    await tar.addBytes(
      'manifest.json',
      Buffer.from(JSON.stringify([{ Config: configName, RepoTags: ['big:1'], Layers: ['l/layer.tar'] }])),
    );
    await tar.addBytes(configName, config);
    await tar.addStream(
      'l/layer.tar',
      count * MiB,
      Array.from({ length: count }, () => layer),
    );
    await tar.finish();

    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const started = performance.now();
    const files = await archiveFiles(archive);
    const inspection = await inspectImages(files);
    expect(await verifyImages(files, inspection)).toBe(2);
    clearInterval(timer);
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(
      `inspect --verify of a 256 MiB layer: ${seconds.toFixed(2)} s, peak RSS growth ${((peak - before) / MiB).toFixed(1)} MiB\n`,
    );
    expect(inspection.images[0]).toMatchObject({
      references: ['big:1'],
      platform: 'linux/arm64',
      size: config.length + count * MiB,
    });
    expect(peak - before).toBeLessThan(96 * MiB);
  });
});
