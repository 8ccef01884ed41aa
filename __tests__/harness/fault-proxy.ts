import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the proxy saw, with what it did about it. */
export interface ProxiedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  fault?: string;
  /** Body bytes sent to the client. */
  bytes?: number;
}

/**
 * A fault to inject into matching requests, `times` times (default once). Exactly one of:
 * - status: answer this status (with headers) without asking the registry;
 * - cutAfterBytes: forward, but drop the connection after this many body bytes;
 * - corrupt: forward, with one body byte flipped;
 * - ignoreRange: drop the request's Range header, as a server without range support would;
 * - stallMs: forward, but hold the response this long first (a slow blob, to kill a run mid-pull).
 */
export interface Fault {
  method?: string;
  path: RegExp;
  times?: number;
  status?: number;
  headers?: Record<string, string>;
  cutAfterBytes?: number;
  corrupt?: boolean;
  ignoreRange?: boolean;
  stallMs?: number;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`: use it as the registry host in references. */
  host: string;
  requests: ProxiedRequest[];
  inject(fault: Fault): void;
  clear(): void;
  stop(): Promise<void>;
}

/**
 * A plain-HTTP proxy in front of a registry that counts requests and injects faults: error
 * statuses, connections cut mid-body, corrupted bytes, Range ignored. The Host header is
 * rewritten to the proxy's, so the registry's absolute Location URLs point back at the proxy.
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const faults: (Fault & { left: number })[] = [];
  const requests: ProxiedRequest[] = [];
  let self = '';

  const take = (req: IncomingMessage): (Fault & { left: number }) | undefined => {
    const fault = faults.find(
      (f) => f.left > 0 && f.path.test(req.url ?? '') && (!f.method || f.method === req.method),
    );
    if (fault) fault.left--;
    return fault;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const fault = take(req);
    const seen: ProxiedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      status: 0,
    };
    requests.push(seen);
    if (fault?.status) {
      seen.status = fault.status;
      seen.fault = `status ${fault.status}`;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(JSON.stringify({ errors: [{ code: 'INJECTED', message: 'injected fault' }] }));
      return;
    }
    if (fault?.stallMs) {
      seen.fault = `stalled ${fault.stallMs} ms`;
      const timer = setTimeout(() => forward(req, res, seen, { ...fault, stallMs: 0 }), fault.stallMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    forward(req, res, seen, fault);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, seen: ProxiedRequest, fault?: Fault) => {
    const headers = { ...req.headers, host: target.host };
    if (fault?.ignoreRange) {
      delete headers.range;
      seen.fault = 'range ignored';
    }
    const up = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (upRes) => {
        seen.status = upRes.statusCode ?? 0;
        const outHeaders = { ...upRes.headers };
        if (typeof outHeaders.location === 'string') {
          outHeaders.location = outHeaders.location.replace(`//${target.host}`, `//${self}`);
        }
        res.writeHead(upRes.statusCode ?? 502, outHeaders);
        let sent = 0;
        let flipped = false;
        upRes.on('data', (chunk: Buffer) => {
          if (fault?.cutAfterBytes !== undefined) {
            const room = fault.cutAfterBytes - sent;
            if (room <= 0 || chunk.length > room) {
              if (room > 0) res.write(chunk.subarray(0, room));
              seen.fault = `cut after ${fault.cutAfterBytes} bytes`;
              upRes.destroy();
              res.socket?.destroy();
              return;
            }
          }
          if (fault?.corrupt && !flipped && chunk.length > 0) {
            chunk = Buffer.from(chunk);
            chunk[0] = (chunk[0] as number) ^ 0xff;
            flipped = true;
            seen.fault = 'corrupted';
          }
          sent += chunk.length;
          seen.bytes = sent;
          res.write(chunk);
        });
        upRes.on('end', () => res.end());
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: self,
    requests,
    inject: (fault) => faults.push({ ...fault, left: fault.times ?? 1 }),
    clear: () => {
      faults.length = 0;
      requests.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
