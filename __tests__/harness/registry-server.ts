import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { Agent, request } from 'undici';
import { freePort, startProcess, waitFor, type Started } from './processes.js';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface RegistryOptions {
  /** none (anonymous), basic (htpasswd) or token (bearer tokens from a small token server). */
  auth?: 'none' | 'basic' | 'token';
  /** Serve HTTPS with a self-signed certificate for 127.0.0.1/localhost. */
  tls?: boolean;
  /** Answer blob GETs with 307 to a second server, like registries that keep blobs on a CDN. */
  redirect?: boolean;
  /** token auth: whether the token server grants pull without credentials (default false). */
  anonymousPull?: boolean;
  /** Serve an existing storage folder (e.g. one a plain registry was pushed to). */
  storageDir?: string;
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of references. */
  host: string;
  url: string;
  storageDir: string;
  /** A plain-HTTP, anonymous registry on the same storage, for pushing test images. */
  pushHost: string;
  username: string;
  password: string;
  /** PEM certificate to trust (tls), also the token signing certificate (token). */
  caFile?: string;
  tokenRequests: RecordedRequest[];
  redirectRequests: RecordedRequest[];
  /**
   * Stops it and removes its folder (config, certificate, storage; with a storage it was
   * given, that storage's folder too): left behind, every test run added gigabytes to the
   * temporary folder. `keepStorage` keeps them, for a registry restarted on the same storage.
   */
  stop(options?: { keepStorage?: boolean }): Promise<void>;
}

function record(
  list: RecordedRequest[],
  req: { method?: string; url?: string; headers: IncomingHttpHeaders },
) {
  list.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A self-signed certificate for 127.0.0.1 and localhost. */
export function makeCertificate(dir: string): { crt: string; key: string } {
  const crt = join(dir, 'crt.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { crt, key };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * A token server as distribution's token auth expects: RS256 JWTs whose x5c header carries the
 * certificate the registry trusts. With valid Basic credentials it grants what was asked; with
 * none, pull only when anonymous pull is allowed; with wrong ones, 401.
 */
async function startTokenServer(
  cert: { crt: string; key: string },
  creds: { username: string; password: string },
  anonymousPull: boolean,
  requests: RecordedRequest[],
): Promise<{ port: number; server: Server }> {
  const der = new X509Certificate(readFileSync(cert.crt)).raw.toString('base64');
  const key = createPrivateKey(readFileSync(cert.key));
  const server = createServer((req, res) => {
    record(requests, req);
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization;
    let authenticated = false;
    if (auth) {
      const [user, ...pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':');
      if (!auth.startsWith('Basic ') || user !== creds.username || pass.join(':') !== creds.password) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
        return;
      }
      authenticated = true;
    }
    if (!authenticated && !anonymousPull) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"credentials required"}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',');
      const granted = authenticated ? actions : actions.filter((a) => a === 'pull');
      return type === 'repository' ? [{ type, name: rest.join(':'), actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der] }));
    const claims = b64url(
      JSON.stringify({
        iss: 'test-issuer',
        sub: authenticated ? creds.username : '',
        aud: url.searchParams.get('service'),
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = b64url(sign('sha256', Buffer.from(`${header}.${claims}`), key));
    const token = `${header}.${claims}.${signature}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  return { port: await listen(server), server };
}

/** Serves files of the storage folder, recording every request (blob storage behind redirects). */
async function startBlobStore(
  root: string,
  requests: RecordedRequest[],
): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    record(requests, req);
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const size = statSync(path).size;
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') res.end();
      else createReadStream(path).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  return { port: await listen(server), server };
}

async function serveRegistry(
  dir: string,
  name: string,
  config: Record<string, unknown>,
  url: string,
  caFile?: string,
) {
  const file = join(dir, `${name}.json`);
  // distribution reads YAML, and JSON is YAML.
  writeFileSync(file, JSON.stringify(config));
  const proc = startProcess('docker-registry', ['serve', file]);
  await waitFor(
    `docker-registry (${name})`,
    async () => {
      const dispatcher = new Agent({ connect: { ca: caFile ? readFileSync(caFile) : undefined } });
      try {
        const res = await request(`${url}/v2/`, { dispatcher });
        await res.body.dump();
        return res.statusCode === 200 || res.statusCode === 401;
      } finally {
        await dispatcher.close();
      }
    },
    15_000,
    proc.output,
  );
  return proc;
}

/** The folders startRegistry made, each holding its registry's config, certificate and storage. */
const made = new Set<string>();

/** Starts Debian's docker-registry (CNCF distribution) on a free loopback port. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  made.add(dir);
  const storageDir = options.storageDir ?? join(dir, 'storage');
  mkdirSync(storageDir, { recursive: true });
  const username = 'tester';
  const password = `pw-${randomUUID()}`;
  const tokenRequests: RecordedRequest[] = [];
  const redirectRequests: RecordedRequest[] = [];
  const servers: Server[] = [];
  const processes: Started[] = [];
  const stop = async ({ keepStorage = false } = {}) => {
    await stopAll();
    if (keepStorage) return;
    rmSync(dir, { recursive: true, force: true });
    // Only a folder this harness made: a storage given from elsewhere is its owner's to remove.
    const adopted = options.storageDir && dirname(options.storageDir);
    if (adopted && made.has(adopted)) rmSync(adopted, { recursive: true, force: true });
  };
  const stopAll = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  };
  try {
    const needCert = options.tls || options.auth === 'token';
    const cert = needCert ? makeCertificate(dir) : undefined;
    const base = {
      version: 0.1,
      log: { level: 'error', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true } },
    };
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const url = `${options.tls ? 'https' : 'http'}://${host}`;
    const config: Record<string, unknown> = {
      ...base,
      http: {
        addr: host,
        secret: 'test',
        ...(options.tls && cert ? { tls: { certificate: cert.crt, key: cert.key } } : {}),
      },
    };
    if (options.auth === 'basic') {
      const htpasswd = join(dir, 'htpasswd');
      writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', username, password]));
      config.auth = { htpasswd: { realm: 'test', path: htpasswd } };
    } else if (options.auth === 'token' && cert) {
      const token = await startTokenServer(
        cert,
        { username, password },
        options.anonymousPull ?? false,
        tokenRequests,
      );
      servers.push(token.server);
      config.auth = {
        token: {
          realm: `http://127.0.0.1:${token.port}/token`,
          service: 'test-registry',
          issuer: 'test-issuer',
          rootcertbundle: cert.crt,
        },
      };
    }
    if (options.redirect) {
      const store = await startBlobStore(storageDir, redirectRequests);
      servers.push(store.server);
      config.storage = { ...base.storage, redirect: { disable: false } };
      config.middleware = {
        storage: [{ name: 'redirect', options: { baseurl: `http://127.0.0.1:${store.port}/` } }],
      };
    }
    processes.push(await serveRegistry(dir, 'main', config, url, cert?.crt));

    let pushHost = host;
    if (options.auth || options.tls || options.redirect) {
      const pushPort = await freePort();
      pushHost = `127.0.0.1:${pushPort}`;
      processes.push(
        await serveRegistry(
          dir,
          'push',
          { ...base, http: { addr: pushHost, secret: 'test' } },
          `http://${pushHost}`,
        ),
      );
    }
    return {
      host,
      url,
      storageDir,
      pushHost,
      username,
      password,
      caFile: cert?.crt,
      tokenRequests,
      redirectRequests,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
