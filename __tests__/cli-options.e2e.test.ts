import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAction } from './harness/action-runner.js';
import { cli } from './harness/cli.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { buildImage, pushImage, type TestImage } from './harness/test-images.js';

let registry: TestRegistry;
let proxy: FaultProxy;
let image: TestImage;
let web: string;
const work = mkdtempSync(join(tmpdir(), 'cli-options-e2e-'));

beforeAll(async () => {
  registry = await startRegistry();
  image = buildImage({ seed: 'options-web' });
  await pushImage(registry.host, 'apps/web', '1.0', image);
  proxy = await startFaultProxy(registry.url);
  web = `${proxy.host}/apps/web:1.0`;
});

afterAll(async () => {
  await Promise.all([registry?.stop(), proxy?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** The entries of a tar file, as GNU tar lists them. */
const tarEntries = (file: string) => execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');

describe('pull conventions end to end (the CLI bundle against a real registry)', () => {
  test('pull --json -q: the report on stdout, nothing on stderr; linux/armhf is linux/arm/v7', async () => {
    const report = join(work, 'report.json');
    const r = await cli([
      'pull',
      '-q',
      '--json',
      ...['--image', web, '--platform', 'linux/armhf', '--layout', join(work, 'layout-json')],
      ...['--report', report],
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const printed = JSON.parse(r.stdout) as { platform: string; images: { reference: string }[] };
    expect(printed).toEqual(JSON.parse(readFileSync(report, 'utf8')));
    expect(printed.platform).toBe('linux/arm/v7');
    expect(printed.images.map((i) => i.reference)).toEqual([web]);
  });

  test('-v logs every request the registry saw, one debug line each, and no credentials', async () => {
    proxy.clear();
    const r = await cli([
      'pull',
      '-v',
      '--image',
      web,
      '--platform',
      'linux/arm64',
      '--layout',
      join(work, 'layout-v'),
    ]);
    expect(r.code).toBe(0);
    const logged = r.stderr.split('\n').filter((l) => /^debug: [A-Z]+ http:\/\/\S+ -> \d{3}$/.test(l));
    expect(logged).toHaveLength(proxy.requests.length);
    for (const request of proxy.requests) {
      expect(logged).toContain(
        `debug: ${request.method} http://${proxy.host}${request.path.split('?')[0]} -> ${request.status}`,
      );
    }
    expect(r.stderr).not.toMatch(/authorization|bearer/i);
  });

  test('a misspelt platform is refused before any request', async () => {
    proxy.clear();
    const r = await cli([
      'pull',
      '--image',
      web,
      '--platform',
      'linux/armv7',
      '--layout',
      join(work, 'layout-bad'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'error: --platform: invalid platform "linux/armv7": did you mean linux/arm/v7?',
    );
    expect(proxy.requests).toHaveLength(0);
    expect(existsSync(join(work, 'layout-bad'))).toBe(false);
  });
});

describe('the action takes what the CLI takes', () => {
  test('layer-compression: none writes a classic docker-archive of decompressed layers', async () => {
    const archive = join(work, 'action-none.tar');
    const r = await runAction({
      pallet: '',
      images: web,
      platform: 'linux/arm64',
      archive,
      'layer-compression': 'none',
      cache: 'false',
    });
    expect(r.commands.filter((c) => c.startsWith('::error'))).toEqual([]);
    expect(r.code).toBe(0);
    const entries = tarEntries(archive);
    expect(entries).toContain('manifest.json');
    // No OCI index: the registry's manifests do not describe decompressed layers.
    expect(entries).not.toContain('index.json');
  });

  test('a bad value fails the step naming the input, before any request', async () => {
    proxy.clear();
    const r = await runAction({
      pallet: '',
      images: web,
      platform: 'linux/arm64',
      concurrency: '100',
      cache: 'false',
    });
    expect(r.code).toBe(1);
    expect(r.commands).toContain(
      '::error::input concurrency: must be a whole number from 1 to 64, got "100"',
    );
    expect(proxy.requests).toHaveLength(0);
  });
});
