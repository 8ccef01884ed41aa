import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './harness/cli.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { startShapedProxy, type ShapedProxy } from './harness/shaped-proxy.js';
import { buildImage, pushImage } from './harness/test-images.js';

/**
 * Over TLS on the internet every new connection costs a TCP and a TLS handshake (2-3 round
 * trips), so the number of connections a run opens is what a user pays for in latency. The
 * proxy counts them at the TCP level; the registry speaks TLS with its own certificate.
 */
const TAGS = 40;
const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];
const CONCURRENCY = 8;
const work = mkdtempSync(join(tmpdir(), 'connections-e2e-'));
let registry: TestRegistry;
let proxy: ShapedProxy;
let refs: string[];
// TLS handshakes cost CPU, and the machine running the tests may be busy.
jest.setTimeout(300_000);

beforeAll(async () => {
  registry = await startRegistry({ tls: true });
  // Small multi-platform images, one repository each, as a pallet's images spread over Docker Hub.
  await Promise.all(
    Array.from({ length: TAGS }, (_, i) =>
      pushImage(
        registry.pushHost,
        `hub/app${i}`,
        '1',
        buildImage({ seed: `connections-${i}`, layerSize: 4 * 1024, platforms: PLATFORMS }),
      ),
    ),
  );
  // A little latency, so that requests overlap as they do on a real network.
  proxy = await startShapedProxy(registry.host, { rttMs: 10 });
  refs = Array.from({ length: TAGS }, (_, i) => `${proxy.host}/hub/app${i}:1`);
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

const images = () => refs.flatMap((r) => ['--image', r]);
const tls = () => ['--ca-file', registry.caFile as string];

describe(`${TAGS} tags over TLS`, () => {
  test(`key opens at most concurrency + 1 connections (${CONCURRENCY + 1})`, async () => {
    proxy.reset();
    const r = await cli(['key', ...images(), '--platform', 'linux/arm64', ...tls()]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^cache-images-linux-arm64-[0-9a-f]+$/);
    const seen = proxy.counts();
    expect(seen.tlsHandshakes).toBe(seen.connections);
    expect(seen.connections).toBeLessThanOrEqual(CONCURRENCY + 1);
  });

  test(`a warm pull opens at most concurrency + 1 connections (${CONCURRENCY + 1})`, async () => {
    const layout = join(work, 'layout');
    const pull = () =>
      cli([
        'pull',
        ...images(),
        '--platform',
        'linux/arm64',
        '--layout',
        layout,
        '--concurrency',
        String(CONCURRENCY),
        ...tls(),
      ]);
    const cold = await pull();
    expect(cold.stderr).not.toMatch(/error/);
    expect(cold.code).toBe(0);

    proxy.reset();
    const warm = await pull();
    expect(warm.stderr).not.toMatch(/error/);
    expect(warm.code).toBe(0);
    const seen = proxy.counts();
    // The warm run still resolved every tag over the network (one HEAD each) ...
    expect(seen.bytesDown).toBeGreaterThan(0);
    expect(seen.tlsHandshakes).toBe(seen.connections);
    // ... but on connections it kept open.
    expect(seen.connections).toBeLessThanOrEqual(CONCURRENCY + 1);
  });
});
