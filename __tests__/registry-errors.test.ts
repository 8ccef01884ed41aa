import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Progress } from '../src/pipeline/progress.js';
import { parseReference } from '../src/references/reference.js';
import { RegistryClient } from '../src/registry/client.js';
import { CredentialStore } from '../src/registry/credentials.js';
import { registryClientFrom } from '../src/registry/from-options.js';
import { adviceFor } from '../src/util/errors.js';
import type { Logger } from '../src/util/log.js';
import { startCountingProxy } from './harness/counting-proxy.js';
import { userError } from './harness/user-error.js';
import {
  countingSink,
  pathOf,
  startHostileRegistry,
  type HostileRegistry,
} from './harness/hostile-registry.js';

const work = mkdtempSync(join(tmpdir(), 'registry-errors-'));
const started: HostileRegistry[] = [];
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all([...started.map((r) => r.stop()), ...stops.map((stop) => stop())]);
});
const cliSetting = (option: string) => `--${option}`;

const quiet: Logger = { info() {}, warn() {}, debug() {}, secret() {} };

describe('connection failures carry a code; advice fits the cause and no flag is in the message', () => {
  test('a name that does not resolve says so, and does not suggest plain HTTP', async () => {
    const client = new RegistryClient({ logger: quiet, backoffMs: 5 });
    const err = await userError(client.resolveTag(parseReference('registry.invalid/app/x:1')));
    await client.close();
    expect(err.code).toBe('dns');
    expect(err.message).toMatch(
      /^image registry.invalid\/app\/x:1 \(registry registry.invalid\): the name registry.invalid did not resolve \(getaddrinfo (ENOTFOUND|EAI_AGAIN)/,
    );
    expect(`${err.message} ${adviceFor(err, cliSetting)}`).not.toMatch(/insecure|--/);
  });

  test('a TLS request answered in plain HTTP is plain-http, with the advice to allow it', async () => {
    const registry = await startHostileRegistry();
    started.push(registry);
    // An IPv4-mapped address reaches 127.0.0.1 but is not loopback by name: HTTPS only.
    const host = `[::ffff:7f00:1]:${registry.host.split(':')[1]}`;
    const client = new RegistryClient({ logger: quiet, backoffMs: 5 });
    const err = await userError(client.resolveTag(parseReference(`${host}/app/x:1`)));
    await client.close();
    expect(err.code).toBe('plain-http');
    expect(err.message).toMatch(
      new RegExp(`: ${host.replace(/[[\]]/g, '\\$&')} answered HTTPS with plain HTTP \\(`),
    );
    expect(err.message).not.toMatch(/--/);
    expect(adviceFor(err, cliSetting)).toBe(
      `it speaks plain HTTP: allow that with --insecure-registry ${host}`,
    );
  });

  test('HTTPS reset but plain HTTP answering is plain-http too (a probe of /v2/, without credentials)', async () => {
    const registry = await startHostileRegistry();
    started.push(registry);
    const proxy = await startCountingProxy(registry.host, { dropTls: true });
    stops.push(proxy.stop);
    const host = `[::ffff:7f00:1]:${proxy.host.split(':')[1]}`;
    const client = new RegistryClient({ logger: quiet, backoffMs: 5 });
    const err = await userError(client.resolveTag(parseReference(`${host}/app/x:1`)));
    await client.close();
    expect(err.code).toBe('plain-http');
    expect(err.message).toMatch(/ failed over HTTPS \(.*ECONNRESET.*\) but answers plain HTTP$/);
    expect(registry.requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization ?? ''}`)).toEqual([
      'GET /v2/ ',
    ]);
  });

  test('a refused connection is unreachable, naming the host', async () => {
    const registry = await startHostileRegistry();
    await registry.stop();
    const client = new RegistryClient({ logger: quiet, backoffMs: 5 });
    const err = await userError(client.resolveTag(parseReference(`${registry.host}/app/x:1`)));
    await client.close();
    expect(err.code).toBe('unreachable');
    expect(err.host).toBe(registry.host);
    expect(err.message).toMatch(/cannot reach the registry at 127.0.0.1:\d+: .*ECONNREFUSED/);
  });
});

describe('secrets', () => {
  /** A registry that wants Basic credentials; it records when the first Authorization arrived. */
  async function basicRegistry() {
    const registry = await startHostileRegistry();
    started.push(registry);
    registry.script((req, res) => {
      if (req.headers.authorization) return false;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
      return true;
    });
    return registry;
  }

  function maskingLogger(registry: HostileRegistry) {
    const masked: { value: string; authorizedRequestsBefore: number }[] = [];
    const logger: Logger = {
      ...quiet,
      secret: (value) =>
        masked.push({
          value,
          authorizedRequestsBefore: registry.requests.filter((r) => r.headers.authorization).length,
        }),
    };
    return { logger, masked };
  }

  test('every form of a docker config credential is masked before the first request carries it', async () => {
    const registry = await basicRegistry();
    const dir = mkdtempSync(join(work, 'docker-'));
    const auth = Buffer.from('robot:s3cret-pass').toString('base64');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const { logger, masked } = maskingLogger(registry);
    const client = registryClientFrom({ logger, credentials: new CredentialStore(dir) });
    const ref = parseReference(`${registry.host}/app/x:1`);
    await client.resolveTag(ref);
    await client.fetchManifest(ref, '1');
    await client.close();
    const authorized = registry.requests.filter((r) => r.headers.authorization);
    expect(authorized.length).toBeGreaterThan(0);
    expect(authorized[0]?.headers.authorization).toBe(`Basic ${auth}`);
    // Each once, however many requests carried it.
    expect(masked.filter((m) => m.value === auth)).toHaveLength(1);
    for (const form of ['s3cret-pass', 'robot:s3cret-pass', auth]) {
      const entry = masked.find((m) => m.value === form);
      expect(entry).toBeDefined();
      expect(entry?.authorizedRequestsBefore).toBe(0);
    }
  });

  test('Authorization never follows a redirect to blob storage', async () => {
    const storage = await startHostileRegistry();
    started.push(storage);
    const registry = await basicRegistry();
    registry.script((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
        return true;
      }
      if (!pathOf(req).includes('/blobs/')) return false;
      res.writeHead(307, { location: `http://${storage.host}${pathOf(req)}` }).end();
      return true;
    });
    const dir = mkdtempSync(join(work, 'docker-'));
    const auth = Buffer.from('robot:pw').toString('base64');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const client = registryClientFrom({ logger: quiet, credentials: new CredentialStore(dir) });
    const { image } = registry;
    const bytes = await client.fetchBlobBytes(parseReference(`${registry.host}/app/x:1`), {
      digest: image.configDigest,
      size: image.config.length,
    });
    await client.close();
    expect(bytes.equals(image.config)).toBe(true);
    expect(storage.requests.length).toBeGreaterThan(0);
    for (const r of storage.requests) expect(r.headers.authorization).toBeUndefined();
  });
});

test('progress rates stay positive when a blob restarts from zero', async () => {
  const lines: string[] = [];
  const progress = new Progress(1000, 1, { ...quiet, info: (l) => lines.push(l) }, 30);
  const sink = progress.track(countingSink());
  await sink.write(Buffer.alloc(900));
  await new Promise((r) => setTimeout(r, 60));
  await sink.reset();
  await new Promise((r) => setTimeout(r, 60));
  progress.stop();
  expect(lines.length).toBeGreaterThan(1);
  for (const line of lines) expect(line).not.toMatch(/-\d/);
});
