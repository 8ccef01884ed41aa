import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
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

const images = () => refs.flatMap((r) => ['--image', r]);
const tls = () => ['--ca-file', registry.caFile as string];

describe(`${TAGS} tags over TLS`, () => {
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

describe('the shaped link', () => {
  test('adds the round trip to the TCP handshake and to each exchange, and caps the bandwidth', async () => {
    const body = Buffer.alloc(1024 * 1024, 7);
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const link = await startShapedProxy(`127.0.0.1:${(server.address() as AddressInfo).port}`, {
      rttMs: 100,
      bitsPerSecond: 8_000_000,
    });
    try {
      const started = performance.now();
      let firstByte = 0;
      const received = await new Promise<number>((resolve, reject) => {
        get(`http://${link.host}/`, { agent: false }, (res) => {
          let n = 0;
          res.on('data', (chunk: Buffer) => {
            firstByte ||= performance.now() - started;
            n += chunk.length;
          });
          res.on('end', () => resolve(n));
        }).on('error', reject);
      });
      const total = performance.now() - started;
      expect(received).toBe(body.length);
      // SYN/SYN-ACK, then request and response: two round trips before the first byte.
      expect(firstByte).toBeGreaterThanOrEqual(200);
      // 1 MiB at 1 MB/s takes about a second on top.
      expect(total).toBeGreaterThanOrEqual(200 + 1000);
      expect(link.counts()).toMatchObject({ connections: 1, tlsHandshakes: 0 });
      expect(link.counts().bytesDown).toBeGreaterThan(body.length);
    } finally {
      await link.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
