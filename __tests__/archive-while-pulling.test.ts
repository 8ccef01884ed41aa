import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepEntries, planEntries, plannedSize } from '../src/archive/archive-plan.js';
import { ArchivesWhilePulling, writeArchives } from '../src/pipeline/archives.js';
import { readLayoutImages } from '../src/layout/layout-images.js';
import { LayoutStore } from '../src/layout/layout-store.js';
import { silentLogger } from '../src/util/log.js';
import { writeLayout } from './harness/layout-files.js';
import { baseLayers, buildImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const base = baseLayers('awpu-base', 2);
const web = buildImage({ seed: 'awpu-web', base, platforms: [ARM64], layerSize: 300 * 1024 });
const api = buildImage({ seed: 'awpu-api', base, platforms: [ARM64], ownLayers: 2 });

describe('archives written while their blobs download', () => {
  test('blobs that came through the mirror are not read from the layout; the bytes equal an archive written after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'awp-unit-'));
    const layoutDir = join(dir, 'layout');
    writeLayout(layoutDir, [
      ['registry.example/web:1', web],
      ['registry.example/api:1', api],
    ]);
    const request = { layoutDir, layerCompression: 'keep' as const, logger: silentLogger };
    await writeArchives({ ...request, archive: join(dir, 'after.tar') });

    const store = await LayoutStore.open(layoutDir, { create: false });
    const images = await readLayoutImages(store);
    const archives = await ArchivesWhilePulling.start(
      { ...request, archive: join(dir, 'while.tar') },
      images,
      0,
    );
    const layers = new Set(images.flatMap((i) => i.manifest.layers.map((l) => l.digest)));
    // Each layer arrives in pieces, out of order, several at once, as downloads do.
    await Promise.all(
      [...layers].map(async (digest) => {
        const bytes = readFileSync(store.blobPath(digest));
        const mirror = archives?.mirrorFor({ digest, size: bytes.length });
        expect(mirror).toBeDefined();
        // A size no image gave this blob gets no place to fill (a broken manifest elsewhere).
        expect(archives?.mirrorFor({ digest, size: bytes.length - 1 })).toBeUndefined();
        const half = Math.floor(bytes.length / 2);
        await mirror?.write([bytes.subarray(half)], half);
        await mirror?.write([bytes.subarray(0, 7), bytes.subarray(7, half)], 0);
        mirror?.complete();
      }),
    );
    // The layers are gone from the layout: finishing must not need them.
    for (const digest of layers) rmSync(store.blobPath(digest));
    const written = await archives?.finish();
    // The size the room check counts on is the size written, to the byte.
    const plan = keepEntries(images, planEntries(images, silentLogger));
    expect(plannedSize(plan)).toBe(statSync(join(dir, 'after.tar')).size);
    expect(written?.map((w) => w.references)).toEqual([['registry.example/web:1', 'registry.example/api:1']]);
    expect(readFileSync(join(dir, 'while.tar')).equals(readFileSync(join(dir, 'after.tar')))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a blob neither downloaded nor in the layout fails naming it, and leaves no archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'awp-unit-'));
    const layoutDir = join(dir, 'layout');
    writeLayout(layoutDir, [['registry.example/web:1', web]]);
    const store = await LayoutStore.open(layoutDir, { create: false });
    const images = await readLayoutImages(store);
    const request = {
      layoutDir,
      archive: join(dir, 'out.tar'),
      layerCompression: 'keep' as const,
      logger: silentLogger,
    };
    const archives = await ArchivesWhilePulling.start(request, images, 0);
    const layer = images[0]?.manifest.layers[0]?.digest as string;
    rmSync(store.blobPath(layer));
    await expect(archives?.finish()).rejects.toThrow(
      `layout ${layoutDir}: blob ${layer} is damaged or went missing`,
    );
    expect(() => readFileSync(join(dir, 'out.tar'))).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['layout']);
    rmSync(dir, { recursive: true, force: true });
  });
});
