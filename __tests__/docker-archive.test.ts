import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArchives } from '../src/pipeline/archives.js';
import { silentLogger } from '../src/util/log.js';
import { writeLayout } from './harness/layout-files.js';
import { baseLayers, buildImage, platformImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const base = baseLayers('da-base', 2);
const web = buildImage({ seed: 'da-web', base, platforms: [ARM64] });
const api = buildImage({ seed: 'da-api', base, platforms: [ARM64], layerSize: 400 * 1024 });

function layoutWith(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `docker-archive-${name}-`));
  writeLayout(join(dir, 'layout'), [
    ['registry.example/web:1', web],
    ['registry.example/api:1', api],
  ]);
  return dir;
}

const write = (dir: string) =>
  writeArchives({
    layoutDir: join(dir, 'layout'),
    archive: join(dir, 'out', 'images.tar'),
    layerCompression: 'keep',
    logger: silentLogger,
  });

describe('writing an archive from a layout', () => {
  test('every blob once, small ones and streamed ones, readable by GNU tar', async () => {
    const dir = layoutWith('ok');
    await write(dir);
    const names = execFileSync('tar', ['-tf', join(dir, 'out', 'images.tar')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    const blobs = readdirSync(join(dir, 'layout', 'blobs', 'sha256')).map((h) => `blobs/sha256/${h}`);
    expect(names.filter((n) => n.startsWith('blobs/sha256/') && n.length > 14).sort()).toEqual(blobs.sort());
  });

  test.each([
    ['a small blob', () => platformImage(web, ARM64).layers.at(-1)],
    ['a streamed blob (over 256 KiB)', () => platformImage(api, ARM64).layers.at(-1)],
  ])('%s cut short in the layout: a layout error naming it, no archive left', async (_what, layer) => {
    const dir = layoutWith('short');
    const digest = layer()?.digest as string;
    truncateSync(join(dir, 'layout', 'blobs', 'sha256', digest.slice(7)), 100);
    const err = await write(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'layout', blob: digest });
    expect((err as Error).message).toMatch(
      new RegExp(`blob ${digest} is damaged or went missing \\(.*expected \\d+ bytes, read 100\\)`),
    );
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
  });

  test('a missing blob is found before anything is written', async () => {
    const dir = layoutWith('missing');
    const digest = platformImage(web, ARM64).layers.at(-1)?.digest as string;
    rmSync(join(dir, 'layout', 'blobs', 'sha256', digest.slice(7)));
    await expect(write(dir)).rejects.toThrow(`image registry.example/web:1: layer ${digest} is missing`);
  });
});
