import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, openSync, readSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectCommand } from '../src/cli/commands/inspect.js';
import { cliSetting } from '../src/cli/main.js';
import { advisedMessage, UserError } from '../src/util/errors.js';
import { cli } from './harness/cli.js';
import { run, startDockerEngine, type DockerEngine } from './harness/docker-engine.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { baseLayers, buildImage, platformImage, pushImage, type TestImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const work = mkdtempSync(join(tmpdir(), 'inspect-e2e-'));
const layout = join(work, 'layout');
const ours = join(work, 'ours.tar');
const oursNone = join(work, 'ours-none.tar');
let registry: TestRegistry;
let engine: DockerEngine;
let web: TestImage;
let api: TestImage;
let refs: { web: string; api: string };

/** Runs the inspect command in-process as the CLI does: stdout, the error line, the exit code. */
async function inspect(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; error?: UserError }> {
  let stdout = '';
  let stderr = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  const logger = {
    info: (m: string) => (stderr += `${m}\n`),
    warn: () => {},
    debug: () => {},
    secret: () => {},
  };
  try {
    return { code: await inspectCommand(args, logger), stdout, stderr };
  } catch (err) {
    return {
      code: 1,
      stdout,
      stderr: `${stderr}error: ${advisedMessage(err, cliSetting)}\n`,
      error: err as UserError,
    };
  } finally {
    process.stdout.write = write;
  }
}

const json = async (args: string[]) => {
  const r = await inspect([...args, '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};

/** Where a member's data starts in a tar, by GNU tar's block numbers (`-R`). */
function dataOffset(archive: string, member: RegExp): number {
  const listing = execFileSync('tar', ['-tvRf', archive], { encoding: 'utf8' }).split('\n');
  const line = listing.find((l) => member.test(l));
  if (!line) throw new Error(`no ${member} in ${archive}:\n${listing.join('\n')}`);
  return (Number(/^block (\d+):/.exec(line)?.[1]) + 1) * 512;
}

/** Flips one byte of a file in place: damage after writing. */
function flipByte(path: string, at: number): void {
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = (b[0] as number) ^ 0xff;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

const layersOf = (img: TestImage) => platformImage(img, ARM64).layers;

beforeAll(async () => {
  [registry, engine] = await Promise.all([startRegistry(), startDockerEngine()]);
  const base = baseLayers('inspect-base', 2);
  web = buildImage({ seed: 'iweb', base });
  api = buildImage({ seed: 'iapi', base, flavour: 'docker', layerSize: 300 * 1024 });
  await pushImage(registry.host, 'apps/web', '1.0', web);
  await pushImage(registry.host, 'apps/api', '2.1', api);
  refs = { web: `${registry.host}/apps/web:1.0`, api: `${registry.host}/apps/api:2.1` };
  const pull = await cli([
    'pull',
    ...['--image', refs.web, '--image', refs.api],
    ...['--platform', 'linux/arm64', '--layout', layout, '--archive', ours],
  ]);
  if (pull.code !== 0) throw new Error(pull.stderr);
  const none = await cli([
    'archive',
    '--layout',
    layout,
    '--archive',
    oursNone,
    '--layer-compression',
    'none',
  ]);
  if (none.code !== 0) throw new Error(none.stderr);
});

afterAll(async () => {
  await Promise.all([registry?.stop(), engine?.stop()]);
});

describe('inspect', () => {
  test('our archive: every image with its reference, registry digest, platform and layers; --verify passes', async () => {
    const r = await json(['--archive', ours, '--verify']);
    expect(r.format).toBe('oci');
    const byRef = new Map(r.images.map((i: { references: string[] }) => [i.references[0], i]));
    for (const [ref, img] of [
      [refs.web, web],
      [refs.api, api],
    ] as const) {
      const p = platformImage(img, ARM64);
      expect(byRef.get(ref)).toEqual({
        references: [ref],
        digest: img.top.digest,
        manifest: p.manifest.digest,
        id: p.config.digest,
        platform: 'linux/arm64',
        size: img.top.size + p.manifest.size + p.config.size + p.layers.reduce((n, l) => n + l.size, 0),
        layers: p.layers.map((l) => ({
          path: `blobs/sha256/${l.digest.slice(7)}`,
          size: l.size,
          digest: l.digest,
          diffId: l.diffId,
        })),
      });
    }
    // Two images, 2 shared base layers + 1 own each, and 3 documents each.
    expect(r.verifiedBlobs).toBe(2 + 2 + 2 * 3);
  });

  test('a table for people', async () => {
    const r = await inspect(['--archive', ours]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REFERENCE\s+DIGEST\s+IMAGE ID\s+PLATFORM\s+SIZE\s+LAYERS$/);
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^${refs.web}\\s+${web.top.digest.slice(0, 19)}\\s+sha256:[a-f0-9]{12}\\s+linux/arm64\\s+[\\d.]+ KiB\\s+3$`,
        ),
      ),
    );
  });

  test('our --layer-compression none archive: a docker-archive whose layers check against diff_ids', async () => {
    const r = await json(['--archive', oursNone, '--verify']);
    expect(r.format).toBe('docker-archive');
    const image = r.images.find((i: { references: string[] }) => i.references.includes(refs.api));
    expect(image.id).toBe(platformImage(api, ARM64).config.digest);
    expect(image.layers.map((l: { diffId: string }) => l.diffId)).toEqual(layersOf(api).map((l) => l.diffId));
  });

  test('an archive written by docker save (loaded from ours, saved back)', async () => {
    expect((await engine.docker(['load', '-i', ours])).code).toBe(0);
    const saved = join(work, 'docker-save.tar');
    const save = await engine.docker(['save', '-o', saved, refs.web, refs.api]);
    expect(save.stderr).toBe('');
    const r = await json(['--archive', saved, '--verify']);
    expect(r.format).toBe('docker-archive');
    expect(r.images).toHaveLength(2);
    for (const [ref, img] of [
      [refs.web, web],
      [refs.api, api],
    ] as const) {
      const image = r.images.find((i: { references: string[] }) => i.references.includes(ref));
      expect(image).toMatchObject({
        digest: null,
        id: platformImage(img, ARM64).config.digest,
        platform: 'linux/arm64',
      });
      expect(image.layers.map((l: { diffId: string }) => l.diffId)).toEqual(
        layersOf(img).map((l) => l.diffId),
      );
    }
    expect(r.verifiedBlobs).toBeGreaterThanOrEqual(2 + 3);
  });

  test('an archive written by skopeo copy ... docker-archive:', async () => {
    const archive = join(work, 'skopeo.tar');
    const copy = await run('skopeo', [
      ...['copy', '--insecure-policy', '--src-tls-verify=false', '--override-arch', 'arm64'],
      `docker://${refs.web}`,
      `docker-archive:${archive}:${refs.web}`,
    ]);
    expect(copy.stderr).toBe('');
    expect(copy.code).toBe(0);
    const r = await json(['--archive', archive, '--verify']);
    expect(r.images).toEqual([
      expect.objectContaining({
        references: [refs.web],
        id: platformImage(web, ARM64).config.digest,
        platform: 'linux/arm64',
      }),
    ]);
    expect(r.images[0].layers.map((l: { diffId: string }) => l.diffId)).toEqual(
      layersOf(web).map((l) => l.diffId),
    );
  });

  test('an OCI layout: references and registry digests; --verify passes', async () => {
    const r = await json(['--layout', layout, '--verify']);
    expect(r.format).toBe('oci');
    expect(
      r.images.map((i: { references: string[]; digest: string }) => [i.references[0], i.digest]).sort(),
    ).toEqual(
      [
        [refs.api, api.top.digest],
        [refs.web, web.top.digest],
      ].sort(),
    );
  });

  describe('--verify finds damage, naming the image and the blob', () => {
    test('a layer of our archive', async () => {
      const archive = join(work, 'damaged.tar');
      copyFileSync(ours, archive);
      const layer = layersOf(api).at(-1)?.digest as string;
      flipByte(archive, dataOffset(archive, new RegExp(`blobs/sha256/${layer.slice(7)}$`)) + 1000);
      // Listing reads no layer, so it still works: only --verify reads every byte.
      expect((await inspect(['--archive', archive])).code).toBe(0);
      const r = await inspect(['--archive', archive, '--verify']);
      expect(r.code).toBe(1);
      expect(r.error?.code).toBe('damaged');
      expect(r.stderr).toMatch(
        new RegExp(
          `^error: ${archive}: image ${refs.api}: ${layer} is damaged: its bytes hash to sha256:[a-f0-9]{64}: it was damaged after it was written`,
        ),
      );
    });

    test('a layer of a docker save archive, checked against its diff_id', async () => {
      const saved = join(work, 'docker-save.tar');
      const archive = join(work, 'damaged-save.tar');
      copyFileSync(saved, archive);
      const listing = execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' });
      const member = / (\S+\/layer\.tar)$/m.exec(
        listing
          .split('\n')
          .filter((l) => l.startsWith('-'))
          .join('\n'),
      )?.[1];
      flipByte(archive, dataOffset(archive, new RegExp(` ${member}$`)) + 700);
      const r = await inspect(['--archive', archive, '--verify']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^error: ${archive}: image \\S+: ${member} is damaged: ${member} unpacks to sha256:[a-f0-9]{64}, but the image config says diff_id sha256:`,
        ),
      );
    });

    test('a blob of a layout', async () => {
      const copy = join(work, 'damaged-layout');
      cpSync(layout, copy, { recursive: true });
      const layer = layersOf(web).at(-1)?.digest as string;
      flipByte(join(copy, 'blobs', 'sha256', layer.slice(7)), 10);
      const r = await inspect(['--layout', copy, '--verify']);
      expect(r.code).toBe(1);
      expect(r.error).toMatchObject({ code: 'damaged', image: refs.web, blob: layer });
    });
  });

  test('not an archive: one line, no stack', async () => {
    const r = await inspect(['--archive', join(layout, 'index.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: \S+index\.json: not a tar archive, or a damaged one: bad header checksum at byte 0\n$/,
    );
  });
});
