import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Entry {
  key: string;
  version: string;
  id: number;
  created: number;
  finalized: boolean;
  blob?: Buffer;
  blocks: Map<string, Buffer>;
}

export interface CacheServer {
  url: string;
  /** What the @actions/cache client needs to talk to this server (v2 protocol). */
  env: Record<string, string>;
  /** Finalized entries' keys, oldest first. */
  keys(): string[];
  requests: { method: string; path: string }[];
  /** While true, every request is answered 500, as in an outage. */
  setOutage(down: boolean): void;
  stop(): Promise<void>;
}

const TWIRP = '/twirp/github.actions.results.api.v1.CacheService/';

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, value: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

/**
 * The GitHub Actions cache service as the @actions/cache client (v2) uses it: Twirp JSON calls to
 * create, finalize and look up entries, and Azure Block Blob uploads and ranged downloads at the
 * signed URLs it hands out. Exact key first, then the newest entry matching a restore-key
 * prefix, versions compared; entries are immutable and visible only once finalized.
 */
export async function startCacheServer(): Promise<CacheServer> {
  const entries: Entry[] = [];
  const requests: { method: string; path: string }[] = [];
  let outage = false;
  let nextId = 1;
  let base = '';

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? '', path: url.pathname + url.search });
    if (outage) {
      json(res, 500, { msg: 'outage' });
      return;
    }
    const data = await body(req);
    if (url.pathname.startsWith(TWIRP)) {
      const call = JSON.parse(data.toString() || '{}') as Record<string, unknown>;
      const key = String(call.key ?? '');
      const version = String(call.version ?? '');
      switch (url.pathname.slice(TWIRP.length)) {
        case 'CreateCacheEntry': {
          if (entries.some((e) => e.key === key && e.version === version)) {
            json(res, 200, { ok: false, message: `cache entry ${key} already exists` });
            return;
          }
          const entry: Entry = {
            key,
            version,
            id: nextId++,
            created: Date.now(),
            finalized: false,
            blocks: new Map(),
          };
          entries.push(entry);
          json(res, 200, {
            ok: true,
            signed_upload_url: `${base}/devstoreaccount1/cache/${entry.id}?sig=upload`,
          });
          return;
        }
        case 'FinalizeCacheEntryUpload': {
          const entry = entries.find((e) => e.key === key && e.version === version && !e.finalized);
          if (!entry?.blob) {
            json(res, 200, { ok: false, message: 'nothing uploaded' });
            return;
          }
          entry.finalized = true;
          json(res, 200, { ok: true, entry_id: String(entry.id) });
          return;
        }
        case 'GetCacheEntryDownloadURL': {
          const live = entries.filter((e) => e.finalized && e.version === version);
          const restoreKeys = (call.restore_keys ?? call.restoreKeys ?? []) as string[];
          let match = live.find((e) => e.key === key);
          for (const prefix of restoreKeys) {
            if (match) break;
            match = live
              .filter((e) => e.key.startsWith(prefix))
              .sort((a, b) => b.created - a.created || b.id - a.id)[0];
          }
          if (!match) json(res, 200, { ok: false, signed_download_url: '', matched_key: '' });
          else
            json(res, 200, {
              ok: true,
              signed_download_url: `${base}/devstoreaccount1/cache/${match.id}?sig=download`,
              matched_key: match.key,
            });
          return;
        }
      }
      json(res, 404, { code: 'bad_route' });
      return;
    }
    const m = /^\/devstoreaccount1\/cache\/(\d+)$/.exec(url.pathname);
    const entry = m ? entries.find((e) => e.id === Number(m[1])) : undefined;
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    const headers = {
      'x-ms-request-id': randomUUID(),
      'x-ms-version': '2024-11-04',
      etag: `"${entry.id}"`,
      'last-modified': new Date(entry.created).toUTCString(),
    };
    if (req.method === 'PUT') {
      const comp = url.searchParams.get('comp');
      if (comp === 'block') entry.blocks.set(url.searchParams.get('blockid') ?? '', data);
      else if (comp === 'blocklist') {
        const ids = [...data.toString().matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]+)<\//g)].map(
          (x) => x[1] as string,
        );
        entry.blob = Buffer.concat(ids.map((id) => entry.blocks.get(id) ?? Buffer.alloc(0)));
        entry.blocks.clear();
      } else entry.blob = data;
      res.writeHead(201, { ...headers, 'content-length': 0 }).end();
      return;
    }
    const blob = entry.blob ?? Buffer.alloc(0);
    const range = /bytes=(\d+)-(\d*)/.exec(String(req.headers['x-ms-range'] ?? req.headers.range ?? ''));
    const common = {
      ...headers,
      'x-ms-blob-type': 'BlockBlob',
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), blob.length - 1) : blob.length - 1;
      res.writeHead(206, {
        ...common,
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${blob.length}`,
      });
      res.end(req.method === 'HEAD' ? undefined : blob.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...common, 'content-length': blob.length });
    res.end(req.method === 'HEAD' ? undefined : blob);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    env: {
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: `${base}/`,
      ACTIONS_RUNTIME_TOKEN: 'test-token',
    },
    keys: () =>
      entries
        .filter((e) => e.finalized)
        .sort((a, b) => a.id - b.id)
        .map((e) => e.key),
    requests,
    setOutage: (down) => {
      outage = down;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
