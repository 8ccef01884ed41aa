import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryResolveDigests } from '../src/pipeline/resolve-digests.js';
import { registryClientFrom } from '../src/registry/from-options.js';
import { RegistrySource } from '../src/registry/registry-source.js';
import type { Logger } from '../src/util/log.js';
import { startCountingProxy } from './harness/counting-proxy.js';
import { startHostileRegistry } from './harness/hostile-registry.js';
import { makeCertificate, startRegistry } from './harness/registry-server.js';
import { buildImage, pushImage } from './harness/test-images.js';

const TAGS = 40;
const CONCURRENCY = 4;
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(stops.map((stop) => stop()));
});
const quiet: Logger = { info() {}, warn() {}, debug() {}, secret() {} };

/**
 * Resolves TAGS tags as `cache-images key` does, through a proxy that counts TCP connections.
 * undici closes the connection after every HEAD unless told otherwise: that was TAGS + 1.
 */
async function connectionsFor(upstream: string, caFile?: string): Promise<number> {
  const proxy = await startCountingProxy(upstream);
  stops.push(proxy.stop);
  const refs = Array.from({ length: TAGS }, (_, i) => `${proxy.host}/app/x:t${i}`);
  const client = registryClientFrom({
    logger: quiet,
    concurrency: CONCURRENCY,
    caFiles: caFile ? [caFile] : [],
  });
  try {
    const { pairs, failures } = await tryResolveDigests(refs, new RegistrySource(client), CONCURRENCY);
    expect(failures).toEqual([]);
    expect(new Set(pairs.map((p) => p.digest)).size).toBe(1);
  } finally {
    await client.close();
  }
  return proxy.connections();
}

describe(`${TAGS} tags open at most concurrency + 1 connections to their registry`, () => {
  test('our own server, plain HTTP and TLS (HTTP/1.1 keep-alive)', async () => {
    const plain = await startHostileRegistry();
    stops.push(plain.stop);
    expect(await connectionsFor(plain.host)).toBeLessThanOrEqual(CONCURRENCY + 1);
    const cert = makeCertificate(mkdtempSync(join(tmpdir(), 'hostile-tls-')));
    const tls = await startHostileRegistry({ tls: cert });
    stops.push(tls.stop);
    expect(await connectionsFor(tls.host, cert.crt)).toBeLessThanOrEqual(CONCURRENCY + 1);
    expect(new Set(tls.protocols)).toEqual(new Set(['http/1.1']));
  });

  test.each([false, true])('Debian docker-registry, TLS %s', async (tls) => {
    const registry = await startRegistry({ tls });
    stops.push(() => registry.stop());
    const image = buildImage({ seed: 'connections', layerSize: 1024 });
    for (let i = 0; i < TAGS; i++) await pushImage(registry.pushHost, 'app/x', `t${i}`, image);
    expect(await connectionsFor(registry.host, registry.caFile)).toBeLessThanOrEqual(CONCURRENCY + 1);
  });
});
