import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { BlobSink } from '../../src/registry/client.js';
import { pseudoRandom } from './test-images.js';

const digestOf = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A small single-platform OCI image (linux/arm64): its documents and its one layer. */
export interface HostileImage {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layer: Buffer;
  layerDigest: string;
}

export function hostileImage(layerSize = 256 * 1024): HostileImage {
  const layer = pseudoRandom('hostile-layer', layerSize);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'arm64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [digestOf(layer)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: digestOf(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: digestOf(layer),
          size: layer.length,
        },
      ],
    }),
  );
  return {
    manifest,
    manifestDigest: digestOf(manifest),
    config,
    configDigest: digestOf(config),
    layer,
    layerDigest: digestOf(layer),
  };
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

/**
 * A test's script: answers a request its own way and returns true, or returns false to let
 * the well-behaved default answer it.
 */
export type Script = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface HostileRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  image: HostileImage;
  requests: SeenRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** The protocols connections negotiated over ALPN (TLS only). */
  protocols: string[];
  script(script: Script): void;
  stop(): Promise<void>;
}

/**
 * A registry of our own that misbehaves on cue: by default it serves one image under any
 * repository and tag as a well-behaved registry does (HEAD and GET, Docker-Content-Digest,
 * Range), and a test's script takes over the requests it wants to spoil.
 */
export async function startHostileRegistry(
  options: { tls?: { crt: string; key: string }; image?: HostileImage } = {},
): Promise<HostileRegistry> {
  const image = options.image ?? hostileImage();
  const requests: SeenRequest[] = [];
  const protocols: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let script: Script = () => false;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    if (script(req, res)) return;
    serveDefault(image, req, res);
  };
  const server: Server = options.tls
    ? createTlsServer({ cert: readFileSync(options.tls.crt), key: readFileSync(options.tls.key) }, handle)
    : createServer(handle);
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: { alpnProtocol?: string | false }) =>
    protocols.push(String(socket.alpnProtocol || 'http/1.1')),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    image,
    requests,
    connections: () => connections,
    protocols,
    script: (s) => {
      script = s;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function serveDefault(image: HostileImage, req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const head = req.method === 'HEAD';
  if (path === '/v2/' || path === '/v2') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(head ? undefined : '{}');
    return;
  }
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(path)) {
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
      'content-length': image.manifest.length,
      'docker-content-digest': image.manifestDigest,
    });
    res.end(head ? undefined : image.manifest);
    return;
  }
  const blob = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path)?.[1];
  const data =
    blob === image.configDigest ? image.config : blob === image.layerDigest ? image.layer : undefined;
  if (!data) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(head ? undefined : '{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    return;
  }
  const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  const partial = req.headers.range !== undefined && start > 0 && start < data.length;
  res.writeHead(partial ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': data.length - (partial ? start : 0),
    'docker-content-digest': blob,
    ...(partial ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
  });
  res.end(head ? undefined : partial ? data.subarray(start) : data);
}

/** The URL path of a request, without the query. */
export function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://x').pathname;
}

/** Counts bytes without keeping them: a layer never sits in memory. */
export function countingSink(): BlobSink & { resets: number } {
  let written = 0;
  return {
    resets: 0,
    get written() {
      return written;
    },
    async write(chunk) {
      written += chunk.length;
    },
    async reset() {
      written = 0;
      this.resets++;
    },
  };
}

/** A script: GET of any manifest answers an endless chunked body of spaces. */
export const endlessManifest: Script = (req, res) => {
  if (!/\/manifests\//.test(pathOf(req)) || req.method !== 'GET') return false;
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
  return true;
};
