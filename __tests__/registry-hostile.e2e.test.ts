import { afterAll, describe, expect, test } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseReference } from '../src/references/reference.js';
import { RegistryClient } from '../src/registry/client.js';
import type { Logger } from '../src/util/log.js';
import { userError } from './harness/user-error.js';
import {
  countingSink,
  endlessManifest,
  pathOf,
  startHostileRegistry,
  type HostileRegistry,
} from './harness/hostile-registry.js';

const started: HostileRegistry[] = [];
afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()));
});

async function hostile(): Promise<HostileRegistry> {
  const registry = await startHostileRegistry();
  started.push(registry);
  return registry;
}

/** A logger that keeps every line, by level, and every value registered as secret. */
function recordingLogger() {
  const lines: { level: string; text: string }[] = [];
  const secrets: string[] = [];
  const logger: Logger = {
    info: (text) => lines.push({ level: 'info', text }),
    warn: (text) => lines.push({ level: 'warn', text }),
    debug: (text) => lines.push({ level: 'debug', text }),
    secret: (value) => secrets.push(value),
  };
  return { logger, lines, secrets };
}

function clientFor(
  logger: Logger = recordingLogger().logger,
  extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {},
) {
  return new RegistryClient({ logger, backoffMs: 5, idleTimeoutMs: 300, ...extra });
}

const isManifest = (req: IncomingMessage) => /\/manifests\//.test(pathOf(req));
const isLayer = (registry: HostileRegistry) => (req: IncomingMessage) =>
  pathOf(req).endsWith(`/blobs/${registry.image.layerDigest}`);

describe('documents are read with a cap enforced while streaming', () => {
  test('an endless chunked manifest stops at the cap, fast, without growing memory', async () => {
    const registry = await hostile();
    registry.script(endlessManifest);
    const client = clientFor();
    const ref = parseReference(`${registry.host}/app/endless:1`);
    global.gc?.();
    const before = process.memoryUsage();
    const began = Date.now();
    const err = await userError(client.fetchManifest(ref, '1'));
    const elapsed = Date.now() - began;
    const after = process.memoryUsage();
    await client.close();
    expect(err.message).toBe(
      `image ${registry.host}/app/endless:1 (registry ${registry.host}): tag 1 is larger than 8388608 bytes, the most accepted for it`,
    );
    expect(err.code).toBe('too-large');
    expect(err.facts).toMatchObject({ image: ref.original, registry: registry.host });
    expect(elapsed).toBeLessThan(5_000);
    const growth = after.rss + after.arrayBuffers - (before.rss + before.arrayBuffers);
    expect(growth).toBeLessThan(96 * 1024 * 1024);
  });

  test('a token service answering HTML says so', async () => {
    const registry = await hostile();
    registry.script((req, res) => {
      if (pathOf(req) === '/token') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login portal</html>');
        return true;
      }
      if (req.headers.authorization) return false;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${registry.host}/token",service="x"` });
      res.end();
      return true;
    });
    const client = clientFor();
    const err = await userError(client.resolveTag(parseReference(`${registry.host}/app/x:1`)));
    await client.close();
    expect(err.message).toBe(
      `token service http://${registry.host} of registry ${registry.host} answered with something that is not a JSON token (text/html)`,
    );
    expect(err.code).toBe('malformed');
    expect(err.facts).toMatchObject({ image: `${registry.host}/app/x:1`, registry: registry.host });
    expect(registry.requests.filter((r) => r.path.startsWith('/token'))).toHaveLength(1);
  });
});

describe('retries have a budget that received bytes cannot reset', () => {
  test('Range ignored and the body cut at the same byte: fails after 5 attempts, saying so', async () => {
    const registry = await hostile();
    const cut = 100_118;
    registry.script((req, res) => {
      if (!isLayer(registry)(req)) return false;
      res.writeHead(200, { 'content-length': registry.image.layer.length });
      res.write(registry.image.layer.subarray(0, cut), () => res.socket?.end());
      return true;
    });
    const { logger, lines } = recordingLogger();
    const client = clientFor(logger);
    const ref = parseReference(`${registry.host}/app/x:1`);
    const began = Date.now();
    const err = await userError(client.downloadBlob(ref, registry.image.layerDigest, countingSink()));
    await client.close();
    expect(err.message).toMatch(
      new RegExp(
        `^image ${registry.host}/app/x:1 \\(registry ${registry.host}\\): downloading blob ${registry.image.layerDigest}: the registry cut the download \\d+ times, never past byte ${cut} \\(`,
      ),
    );
    expect(err.code).toBe('registry-failing');
    expect(err.blob).toBe(registry.image.layerDigest);
    // Five in a row without a byte past the furthest; bytes that arrive just before a cut may be
    // lost inside the HTTP client, which can make a later attempt look like progress: 20 at most.
    const gets = registry.requests.filter((r) => r.path.endsWith(registry.image.layerDigest));
    expect(gets.length).toBeGreaterThanOrEqual(5);
    expect(gets.length).toBeLessThanOrEqual(20);
    expect(Date.now() - began).toBeLessThan(5_000);
    // The failure is the caller's to report, once: no retry said it at info or warn level.
    expect(lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  test('a Content-Length longer than what is sent: bounded, with the byte it stops at', async () => {
    const registry = await hostile();
    const stop = 50_000;
    registry.script((req, res) => {
      if (!isLayer(registry)(req)) return false;
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const size = registry.image.layer.length;
      res.writeHead(start ? 206 : 200, {
        'content-length': size - start,
        ...(start ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
      });
      res.write(registry.image.layer.subarray(start, Math.max(start, stop)), () => res.socket?.end());
      return true;
    });
    const client = clientFor();
    const sink = countingSink();
    const err = await userError(
      client.downloadBlob(parseReference(`${registry.host}/app/x:1`), registry.image.layerDigest, sink),
    );
    await client.close();
    expect(err.message).toMatch(/: the registry cut the download \d+ times, never past byte 50000 \(/);
    const gets = registry.requests.filter((r) => r.path.endsWith(registry.image.layerDigest));
    expect(gets.length).toBeGreaterThanOrEqual(5);
    expect(gets.length).toBeLessThanOrEqual(20);
    // Resumed with Range from the bytes it had, not from 0.
    for (const r of gets.slice(1)) expect(r.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(sink.resets).toBe(0);
  });

  test('a stalled body times out (idle timeout), resumes, and fails after the budget', async () => {
    const registry = await hostile();
    registry.script((req, res) => {
      if (!isLayer(registry)(req)) return false;
      res.writeHead(200, { 'content-length': registry.image.layer.length });
      res.write(registry.image.layer.subarray(0, 10_000)); // then nothing, ever
      return true;
    });
    const client = clientFor();
    const began = Date.now();
    const err = await userError(
      client.downloadBlob(
        parseReference(`${registry.host}/app/x:1`),
        registry.image.layerDigest,
        countingSink(),
      ),
    );
    await client.close();
    expect(err.message).toMatch(
      /: the download stalled 5 times, never past byte 10000 \(no bytes for 0.3 s\)$/,
    );
    // undici's timers tick at about a second: five idle attempts take five to six seconds.
    expect(Date.now() - began).toBeLessThan(10_000);
  });

  test('a stalled manifest body gets the same retries and context, not a bare Body Timeout Error', async () => {
    const registry = await hostile();
    registry.script((req, res) => {
      if (!isManifest(req) || req.method !== 'GET') return false;
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-length': 1000,
      });
      res.write('{"schemaVersion":');
      return true;
    });
    const client = clientFor();
    const err = await userError(client.fetchManifest(parseReference(`${registry.host}/app/x:1`), '1'));
    await client.close();
    expect(err.message).toBe(
      `image ${registry.host}/app/x:1 (registry ${registry.host}): reading tag 1 failed 5 times: no bytes for 0.3 s`,
    );
    expect(err.code).toBe('registry-failing');
    expect(
      registry.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/manifests/1')),
    ).toHaveLength(5);
  });

  test('progress past the furthest byte earns fresh attempts: a flaky but advancing server succeeds', async () => {
    const registry = await hostile();
    let cuts = 0;
    registry.script((req, res) => {
      if (!isLayer(registry)(req) || cuts >= 8) return false;
      cuts++;
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const size = registry.image.layer.length;
      res.writeHead(start ? 206 : 200, {
        'content-length': size - start,
        ...(start ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
      });
      res.write(registry.image.layer.subarray(start, start + 20_000), () => res.socket?.end());
      return true;
    });
    const client = clientFor();
    const sink = countingSink();
    await client.downloadBlob(parseReference(`${registry.host}/app/x:1`), registry.image.layerDigest, sink);
    await client.close();
    expect(sink.written).toBe(registry.image.layer.length);
    expect(registry.requests.filter((r) => r.path.endsWith(registry.image.layerDigest))).toHaveLength(9);
  });
});

describe('Retry-After', () => {
  const throttle = (registry: HostileRegistry, status: number, seconds: string, times: number) => {
    let left = times;
    registry.script((req: IncomingMessage, res: ServerResponse) => {
      if (!isManifest(req) || left <= 0) return false;
      left--;
      res.writeHead(status, { 'retry-after': seconds, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS"}]}');
      return true;
    });
  };

  test('a wait longer than the cap is not waited: one request, and the error says how long it asked', async () => {
    const registry = await hostile();
    throttle(registry, 429, '3600', 100);
    const client = clientFor();
    const began = Date.now();
    const err = await userError(client.resolveTag(parseReference(`${registry.host}/app/x:1`)));
    await client.close();
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(err.message).toBe(
      `image ${registry.host}/app/x:1 (registry ${registry.host}): rate limit hit, HTTP 429 (resets in 3600 s)`,
    );
    expect(err.code).toBe('rate-limited');
    expect(registry.requests.filter((r) => r.path.endsWith('/manifests/1'))).toHaveLength(1);
  });

  test('a 503 asking for an hour fails at once with that fact', async () => {
    const registry = await hostile();
    throttle(registry, 503, '3600', 100);
    const client = clientFor();
    const err = await userError(client.resolveTag(parseReference(`${registry.host}/app/x:1`)));
    await client.close();
    expect(err.message).toMatch(/: fetching tag 1 failed, HTTP 503 \(the registry asks to wait 3600 s\)$/);
    expect(err.code).toBe('registry-failing');
  });

  test('a wait within the cap is waited, and each wait is logged at info with the attempt', async () => {
    const registry = await hostile();
    throttle(registry, 429, '1', 1);
    const { logger, lines } = recordingLogger();
    const client = clientFor(logger);
    const began = Date.now();
    const tag = await client.resolveTag(parseReference(`${registry.host}/app/x:1`));
    await client.close();
    expect(tag.digest).toBe(registry.image.manifestDigest);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_000);
    expect(lines.filter((l) => l.level === 'info').map((l) => l.text)).toEqual([
      `${registry.host} answered HTTP 429 and asked to wait 1 s; waiting, attempt 2 of 5`,
    ]);
  });
});

describe('media types', () => {
  const serveManifest = (registry: HostileRegistry, body: Buffer, contentType: string) =>
    registry.script((req, res) => {
      if (!isManifest(req)) return false;
      res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    });
  const withoutMediaType = (manifest: Buffer) => {
    const doc = JSON.parse(manifest.toString()) as Record<string, unknown>;
    delete doc.mediaType;
    return Buffer.from(JSON.stringify(doc));
  };

  test('a manifest without mediaType served as text/plain is refused, naming image and registry', async () => {
    const registry = await hostile();
    serveManifest(registry, withoutMediaType(registry.image.manifest), 'text/plain; charset=utf-8');
    const client = clientFor();
    const err = await userError(client.fetchManifest(parseReference(`${registry.host}/app/x:1`), '1'));
    await client.close();
    expect(err.message).toMatch(
      new RegExp(
        `^image ${registry.host}/app/x:1 \\(registry ${registry.host}\\): sha256:[a-f0-9]{64}: the document has no mediaType and was served as "text/plain", which is not a manifest or index type$`,
      ),
    );
    expect(err.code).toBe('malformed');
  });

  test("the document's own mediaType wins over a wrong Content-Type; a manifest Content-Type fills a missing one", async () => {
    const registry = await hostile();
    serveManifest(registry, registry.image.manifest, 'text/plain');
    const client = clientFor();
    const ref = parseReference(`${registry.host}/app/x:1`);
    expect((await client.fetchManifest(ref, '1')).mediaType).toBe(
      'application/vnd.oci.image.manifest.v1+json',
    );
    serveManifest(
      registry,
      withoutMediaType(registry.image.manifest),
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    expect((await client.fetchManifest(ref, '1')).mediaType).toBe(
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    await client.close();
  });
});

describe('malformed documents give one line naming image, registry and field', () => {
  const cases: [string, (doc: Record<string, unknown>) => unknown, RegExp][] = [
    ['a null layer', (d) => ({ ...d, layers: [null] }), /layers\[0\] is null, not a descriptor$/],
    [
      'a size given as a string',
      (d) => ({ ...d, layers: (d.layers as object[]).map((l) => ({ ...l, size: '12' })) }),
      /layers\[0\]\.size is a string, not a whole number of bytes$/,
    ],
    [
      'an index entry without architecture',
      (d) => ({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ ...(d.config as object), platform: { os: 'linux' } }],
      }),
      /manifests\[0\]\.platform\.architecture is missing$/,
    ],
    [
      'an unsupported digest algorithm',
      (d) => ({ ...d, config: { ...(d.config as object), digest: `sha512:${'a'.repeat(128)}` } }),
      /config\.digest uses the sha512 algorithm, which is not supported \(only sha256\)$/,
    ],
  ];
  test.each(cases)('%s', async (_name, spoil, message) => {
    const registry = await hostile();
    const body = Buffer.from(JSON.stringify(spoil(JSON.parse(registry.image.manifest.toString()))));
    registry.script((req, res) => {
      if (!isManifest(req)) return false;
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(body);
      return true;
    });
    const client = clientFor();
    const err = await userError(client.fetchManifest(parseReference(`${registry.host}/app/x:1`), '1'));
    await client.close();
    expect(err.message).toMatch(
      new RegExp(`^image ${registry.host}/app/x:1 \\(registry ${registry.host}\\): sha256:`),
    );
    expect(err.message).toMatch(message);
    expect(err.facts).toMatchObject({ image: `${registry.host}/app/x:1`, registry: registry.host });
  });

  test('a config without architecture', async () => {
    const registry = await hostile();
    const config = Buffer.from(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const { createHash } = await import('node:crypto');
    const digest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    registry.script((req, res) => {
      if (!pathOf(req).endsWith(digest)) return false;
      res.writeHead(200, { 'content-length': config.length }).end(config);
      return true;
    });
    const client = clientFor();
    const err = await userError(
      client.fetchConfig(parseReference(`${registry.host}/app/x:1`), { digest, size: config.length }),
    );
    await client.close();
    expect(err.message).toBe(
      `image ${registry.host}/app/x:1 (registry ${registry.host}): ${digest}: image config architecture is missing`,
    );
    expect(err.code).toBe('malformed');
  });

  test('a config larger than its descriptor is cut at the descriptor size', async () => {
    const registry = await hostile();
    registry.script((req, res) => {
      if (!pathOf(req).endsWith(registry.image.configDigest)) return false;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(1024 * 1024, 0x20));
      return true;
    });
    const client = clientFor();
    const err = await userError(
      client.fetchBlobBytes(parseReference(`${registry.host}/app/x:1`), {
        digest: registry.image.configDigest,
        size: registry.image.config.length,
      }),
    );
    await client.close();
    expect(err.code).toBe('too-large');
    expect(err.blob).toBe(registry.image.configDigest);
  });
});

describe('references and hosts', () => {
  test('an unsupported digest algorithm and an invalid port name the image', () => {
    expect(() => parseReference(`127.0.0.1:5000/app@sha512:${'a'.repeat(128)}`)).toThrow(
      /invalid image reference "127.0.0.1:5000\/app@sha512:a+": digest algorithm sha512 is not supported \(only sha256\)/,
    );
    expect(() => parseReference('127.0.0.1:99999/app:1')).toThrow(
      'invalid image reference "127.0.0.1:99999/app:1": port 99999 of registry 127.0.0.1:99999 is not between 1 and 65535',
    );
  });

  test('LOCALHOST is loopback: plain HTTP is allowed for it', async () => {
    const registry = await hostile();
    const client = clientFor();
    const port = registry.host.split(':')[1];
    const tag = await client.resolveTag(parseReference(`LOCALHOST:${port}/app/x:1`));
    await client.close();
    expect(tag.digest).toBe(registry.image.manifestDigest);
  });
});
