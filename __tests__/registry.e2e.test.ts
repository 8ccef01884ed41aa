import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, errorLines } from './harness/cli.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { endlessManifest, pathOf, startHostileRegistry } from './harness/hostile-registry.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { buildImage, platformImage, pushImage, type TestImage } from './harness/test-images.js';

const ARM64 = { os: 'linux', architecture: 'arm64' };
const work = mkdtempSync(join(tmpdir(), 'registry-e2e-'));
const started: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
});

/** A docker config dir holding credentials for `host`, as `docker login` writes it. */
function dockerConfig(host: string, username: string, password: string): string {
  const dir = mkdtempSync(join(work, 'docker-'));
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }));
  return dir;
}

async function registryWith(image: TestImage, options: Parameters<typeof startRegistry>[0]) {
  const registry = await startRegistry(options);
  started.push(registry);
  await pushImage(registry.pushHost, 'app/x', '1', image);
  return registry;
}

const pull = (ref: string, layout: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  cli(['pull', '--image', ref, '--platform', 'linux/arm64', '--layout', layout, ...extra], env);

function storedBlobs(layout: string): string[] {
  return readdirSync(join(layout, 'blobs', 'sha256'));
}

const image = buildImage({ seed: 'registry-e2e', layerSize: 256 * 1024 });
const arm = platformImage(image, ARM64);

describe('auth', () => {
  test('bearer tokens: credentials from docker config.json; the token server sees Basic, the registry a Bearer', async () => {
    const registry = await registryWith(image, { auth: 'token' });
    const config = dockerConfig(registry.host, registry.username, registry.password);
    const r = await pull(`${registry.host}/app/x:1`, join(work, 'token'), [], { DOCKER_CONFIG: config });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(registry.tokenRequests.length).toBeGreaterThan(0);
    const tokenRequest = registry.tokenRequests[0];
    expect(tokenRequest?.url).toMatch(/scope=repository%3Aapp%2Fx%3Apull/);
    expect(tokenRequest?.headers.authorization).toMatch(/^Basic /);
    // One token serves the whole pull: it is cached per scope.
    expect(registry.tokenRequests).toHaveLength(1);
    expect(r.stderr).not.toContain(registry.password);
  });

  test('bearer tokens: no credentials where the registry requires them says to log in', async () => {
    const registry = await registryWith(image, { auth: 'token' });
    const r = await pull(`${registry.host}/app/x:1`, join(work, 'token-anon'), [], {
      DOCKER_CONFIG: mkdtempSync(join(work, 'empty-')),
    });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr).join('\n')).toBe(
      `error: registry ${registry.host} requires a login to pull (token service answered HTTP 401): check the name, or log in to ${registry.host} (docker login; docker/login-action in a workflow)`,
    );
  });

  test('bearer tokens: anonymous pull where the token server allows it', async () => {
    const registry = await registryWith(image, { auth: 'token', anonymousPull: true });
    const r = await pull(`${registry.host}/app/x:1`, join(work, 'token-public'), [], {
      DOCKER_CONFIG: mkdtempSync(join(work, 'empty-')),
    });
    expect(r.code).toBe(0);
    expect(registry.tokenRequests[0]?.headers.authorization).toBeUndefined();
  });

  test('TLS with Basic auth: the CA from --ca-file, credentials from docker config', async () => {
    const registry = await registryWith(image, { tls: true, auth: 'basic' });
    const config = dockerConfig(registry.host, registry.username, registry.password);
    const layout = join(work, 'tls');
    const r = await pull(`${registry.host}/app/x:1`, layout, ['--ca-file', registry.caFile as string], {
      DOCKER_CONFIG: config,
    });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(storedBlobs(layout)).toContain(arm.layers[0]?.digest.slice(7));
  });

  test('TLS: an untrusted certificate is refused, even on loopback, with what to do', async () => {
    const registry = await registryWith(image, { tls: true });
    const r = await pull(`${registry.host}/app/x:1`, join(work, 'tls-untrusted'));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr).join('\n')).toMatch(
      new RegExp(
        `^error: image ${registry.host}/app/x:1 \\(registry ${registry.host}\\): the TLS certificate of ${registry.host} is not trusted \\(.*\\): trust its CA with --ca-file, or skip verification for it with --insecure-registry ${registry.host}$`,
      ),
    );
    // Listing the host as insecure skips verification, as Docker's insecure-registries does.
    const insecure = await pull(`${registry.host}/app/x:1`, join(work, 'tls-insecure'), [
      '--insecure-registry',
      registry.host,
    ]);
    expect(insecure.code).toBe(0);
  });

  test('TLS with Basic auth: wrong credentials are refused with advice', async () => {
    const registry = await registryWith(image, { tls: true, auth: 'basic' });
    const config = dockerConfig(registry.host, registry.username, 'wrong');
    const r = await pull(
      `${registry.host}/app/x:1`,
      join(work, 'tls-wrong'),
      ['--ca-file', registry.caFile as string],
      {
        DOCKER_CONFIG: config,
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /access to tag 1 denied, HTTP 401: check the name, or log in to 127\.0\.0\.1:\d+ \(docker login; docker\/login-action in a workflow\)$/m,
    );
    expect(r.stderr).not.toContain('wrong');
  });
});

test('credentials from a docker-credential helper named by credHelpers', async () => {
  const registry = await registryWith(image, { auth: 'basic', tls: true });
  const bin = mkdtempSync(join(work, 'bin-'));
  const helper = join(bin, 'docker-credential-testhelper');
  const calls = join(bin, 'calls');
  writeFileSync(calls, '');
  // The helper protocol: server URL on stdin, JSON {Username, Secret} on stdout.
  writeFileSync(
    helper,
    `#!/bin/sh\nread server\necho "$server" >> ${calls}\n[ "$1" = get ] && [ "$server" = "${registry.host}" ] || exit 1\necho '{"Username":"${registry.username}","Secret":"${registry.password}"}'\n`,
    { mode: 0o755 },
  );
  const config = mkdtempSync(join(work, 'docker-'));
  writeFileSync(
    join(config, 'config.json'),
    JSON.stringify({ credHelpers: { [registry.host]: 'testhelper' } }),
  );
  const r = await pull(
    `${registry.host}/app/x:1`,
    join(work, 'helper'),
    ['--ca-file', registry.caFile as string],
    {
      DOCKER_CONFIG: config,
      PATH: `${bin}:${process.env.PATH}`,
    },
  );
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  // Once for the run, not once per request (the pull made a dozen).
  expect(readFileSync(calls, 'utf8').split('\n').filter(Boolean)).toEqual([registry.host]);
  expect(r.stderr).not.toContain(registry.password);
});

describe('redirects to blob storage', () => {
  test('blobs come from the storage server, which never sees Authorization', async () => {
    const registry = await registryWith(image, { auth: 'token', redirect: true });
    const config = dockerConfig(registry.host, registry.username, registry.password);
    const layout = join(work, 'redirect');
    const r = await pull(`${registry.host}/app/x:1`, layout, [], { DOCKER_CONFIG: config });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const blobGets = registry.redirectRequests.filter((q) => q.method === 'GET');
    // Config and every layer went through the redirect.
    expect(blobGets.length).toBe(1 + arm.layers.length);
    for (const q of registry.redirectRequests) expect(q.headers.authorization).toBeUndefined();
    expect(storedBlobs(layout).length).toBe(3 + arm.layers.length);
  });
});

describe('faults between us and the registry', () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await registryWith(image, {});
    proxy = await startFaultProxy(`http://${registry.host}`);
    started.push(proxy);
  });
  const ref = () => `${proxy.host}/app/x:1`;
  const layerPath = new RegExp(`/blobs/${arm.layers[0]?.digest}$`);

  test('429 with Retry-After is waited out and retried', async () => {
    proxy.clear();
    proxy.inject({ path: /\/manifests\/1$/, status: 429, headers: { 'retry-after': '1' } });
    const began = Date.now();
    const r = await pull(ref(), join(work, 'f429'));
    expect(r.code).toBe(0);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000);
    const tagRequests = proxy.requests.filter((q) => /\/manifests\/1$/.test(q.path));
    expect(tagRequests.map((q) => q.status)).toEqual([429, 200]);
  });

  test('a burst of 503s is retried with backoff', async () => {
    proxy.clear();
    proxy.inject({ path: layerPath, status: 503, times: 3 });
    const r = await pull(ref(), join(work, 'f503'));
    expect(r.code).toBe(0);
    expect(proxy.requests.filter((q) => layerPath.test(q.path)).map((q) => q.status)).toEqual([
      503, 503, 503, 200,
    ]);
  });

  test('persistent 503s fail after the retries, naming image and registry', async () => {
    proxy.clear();
    proxy.inject({ path: layerPath, status: 503, times: 100 });
    const layout = join(work, 'f503x');
    const r = await pull(ref(), layout);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr).join('\n')).toMatch(
      new RegExp(
        `^error: image ${proxy.host}/app/x:1 \\(registry ${proxy.host}\\): fetching blob sha256:[a-f0-9]+ failed, HTTP 503`,
      ),
    );
    // Nothing half-written: only complete, verified blobs, no temporary files.
    for (const name of storedBlobs(layout)) expect(name).toMatch(/^[a-f0-9]{64}$/);
    expect(storedBlobs(layout)).not.toContain(arm.layers[0]?.digest.slice(7));
  });

  test('a rate limit that persists names the limit and what to do', async () => {
    proxy.clear();
    proxy.inject({
      path: /\/manifests\/1$/,
      status: 429,
      times: 100,
      headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600', 'retry-after': '0' },
    });
    const r = await pull(ref(), join(work, 'ratelimit'));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr).join('\n')).toBe(
      `error: image ${proxy.host}/app/x:1 (registry ${proxy.host}): rate limit hit, HTTP 429 (limit 100 per 6 h, 0 remaining, resets in 0 s): log in to raise the limit (anonymous pulls have the lowest), or use a mirror (--mirror)`,
    );
  });

  test('a connection cut mid-blob resumes with Range instead of starting over', async () => {
    proxy.clear();
    proxy.inject({ path: layerPath, cutAfterBytes: 100_000 });
    const layout = join(work, 'cut');
    const r = await pull(ref(), layout);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const gets = proxy.requests.filter((q) => layerPath.test(q.path) && q.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[0]?.fault).toBe('cut after 100000 bytes');
    // Resumed from what arrived before the cut (at most what the proxy sent), not from 0.
    const offset = Number(/^bytes=(\d+)-$/.exec(String(gets[1]?.headers.range))?.[1]);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(100_000);
    expect(gets[1]?.status).toBe(206);
    expect(storedBlobs(layout)).toContain(arm.layers[0]?.digest.slice(7));
  });

  test('when the server ignores Range and answers 200, the download starts over cleanly', async () => {
    proxy.clear();
    proxy.inject({ path: layerPath, cutAfterBytes: 50_000 });
    proxy.inject({ path: layerPath, ignoreRange: true });
    const r = await pull(ref(), join(work, 'norange'));
    expect(r.code).toBe(0);
    const gets = proxy.requests.filter((q) => layerPath.test(q.path) && q.method === 'GET');
    expect(gets.map((q) => q.status)).toEqual([200, 200]);
  });

  test('a body that does not match its digest fails and leaves nothing in the layout', async () => {
    proxy.clear();
    proxy.inject({ path: layerPath, corrupt: true });
    const layout = join(work, 'corrupt');
    const r = await pull(ref(), layout);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `error: image ${proxy.host}/app/x:1 .*: blob ${arm.layers[0]?.digest} is corrupt \\(content hashes to sha256:[a-f0-9]+, expected ${arm.layers[0]?.digest}\\)(;|:) nothing was stored`,
      ),
    );
    expect(storedBlobs(layout)).not.toContain(arm.layers[0]?.digest.slice(7));
    for (const name of storedBlobs(layout)) expect(name).toMatch(/^[a-f0-9]{64}$/);
  });

  test('a manifest altered on the way is refused', async () => {
    proxy.clear();
    proxy.inject({ path: new RegExp(`/manifests/${arm.manifest.digest}$`), corrupt: true });
    const r = await pull(ref(), join(work, 'corrupt-manifest'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /manifest sha256:[a-f0-9]+ arrived with digest sha256:[a-f0-9]+: the registry or a proxy altered it/,
    );
  });

  test('tags are resolved with HEAD; only missing documents are fetched with GET', async () => {
    const layout = join(work, 'heads');
    expect((await pull(ref(), layout)).code).toBe(0);
    proxy.clear();
    expect((await pull(ref(), layout)).code).toBe(0);
    const manifestRequests = proxy.requests.filter((q) => q.path.includes('/manifests/'));
    expect(manifestRequests.map((q) => `${q.method} ${q.path.replace(/.*\/manifests\//, '')}`)).toEqual([
      'HEAD 1',
    ]);
    expect(proxy.requests.filter((q) => q.path.includes('/blobs/'))).toHaveLength(0);
  });

  test('a mirror is tried first and the registry is the fallback', async () => {
    proxy.clear();
    const upstream = `${registry.host}/app/x:1`;
    // The proxy stands in for a mirror of the registry; while it fails, the registry answers.
    proxy.inject({ path: /./, status: 500, times: 1000 });
    const r = await pull(upstream, join(work, 'mirror'), ['--mirror', `${registry.host}=${proxy.host}`]);
    expect(r.code).toBe(0);
    expect(proxy.requests.length).toBeGreaterThan(0);
    proxy.clear();
    const viaMirror = await pull(upstream, join(work, 'mirror2'), [
      '--mirror',
      `${registry.host}=${proxy.host}`,
    ]);
    expect(viaMirror.code).toBe(0);
    expect(proxy.requests.filter((q) => q.path.includes('/blobs/')).length).toBe(1 + arm.layers.length);
  });
});

describe('a hostile registry, as the user sees it: one error line, in bounded time', () => {
  async function hostile(script: Parameters<Awaited<ReturnType<typeof startHostileRegistry>>['script']>[0]) {
    const registry = await startHostileRegistry();
    started.push(registry);
    registry.script(script);
    return registry;
  }

  test('an endless manifest body stops at the cap', async () => {
    const registry = await hostile(endlessManifest);
    const began = Date.now();
    const r = await pull(`${registry.host}/app/x:1`, join(work, 'hostile-endless'));
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: image ${registry.host}/app/x:1 \\(registry ${registry.host}\\): manifest sha256:[a-f0-9]{64} is larger than 8388608 bytes`,
        ),
      ),
    ]);
  });

  test('a layer cut at the same byte with Range ignored fails after five attempts, saying so once', async () => {
    let layer = '';
    const registry = await hostile((req, res) => {
      if (!pathOf(req).endsWith(layer)) return false;
      res.writeHead(200, { 'content-length': registry.image.layer.length });
      res.write(registry.image.layer.subarray(0, 100_118), () => res.socket?.end());
      return true;
    });
    layer = registry.image.layerDigest;
    const r = await pull(`${registry.host}/app/x:1`, join(work, 'hostile-cut'));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: image ${registry.host}/app/x:1 \\(registry ${registry.host}\\): downloading blob ${layer}: the registry cut the download \\d+ times, never past byte 100118 \\(other side closed \\(UND_ERR_SOCKET\\)\\): try again later; if it persists, the registry or a proxy in between is at fault$`,
        ),
      ),
    ]);
    // Bounded: before, the pull retried this forever (889 requests in 20 s).
    const gets = registry.requests.filter((q) => q.path.endsWith(layer));
    expect(gets.length).toBeGreaterThanOrEqual(5);
    expect(gets.length).toBeLessThanOrEqual(20);
  });

  test('a manifest served as text/plain without a mediaType is refused, and nothing is recorded', async () => {
    const registry = await hostile((req, res) => {
      if (!/\/manifests\//.test(pathOf(req))) return false;
      const doc = JSON.parse(registry.image.manifest.toString()) as Record<string, unknown>;
      delete doc.mediaType;
      const body = Buffer.from(JSON.stringify(doc));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    });
    const layout = join(work, 'hostile-text');
    const r = await pull(`${registry.host}/app/x:1`, layout);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(
        /: the document has no mediaType and was served as "text\/plain", which is not a manifest or index type$/,
      ),
    ]);
    expect(storedBlobs(layout)).toEqual([]);
  });
});

mkdirSync(work, { recursive: true });
