import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ShapeOptions {
  /** Round-trip time added to every exchange: each chunk waits rttMs / 2 in each direction. */
  rttMs?: number;
  /** Link capacity in bit/s, per direction, shared by all connections (0 or absent: no cap). */
  bitsPerSecond?: number;
}

/** What crossed the proxy since it started (or since the last reset()). */
export interface LinkCounts {
  /** TCP connections accepted from clients. */
  connections: number;
  /** Connections whose first byte was 0x16, a TLS handshake record (the ClientHello). */
  tlsHandshakes: number;
  /** Most connections open at once. */
  peakOpen: number;
  bytesUp: number;
  bytesDown: number;
}

export interface ShapedProxy {
  /** `127.0.0.1:PORT`: use it as the registry host in references. */
  host: string;
  counts(): LinkCounts;
  reset(): void;
  stop(): Promise<void>;
}

/**
 * One direction of the link: a byte takes 8 / bitsPerSecond seconds to serialise, and the link
 * sends one chunk at a time for all connections, as a runner's uplink does.
 */
class Pacer {
  private busyUntil = 0;
  constructor(private readonly bitsPerSecond: number) {}

  /** When a chunk of `bytes` entering the link now has fully left it (ms, performance.now()). */
  depart(bytes: number): number {
    const now = performance.now();
    if (!this.bitsPerSecond) return now;
    this.busyUntil = Math.max(now, this.busyUntil) + (bytes * 8 * 1000) / this.bitsPerSecond;
    return this.busyUntil;
  }
}

/** Above this many bytes waiting in one direction of one connection, the sender is paused. */
const HIGH_WATER = 1024 * 1024;

/**
 * Moves bytes from `from` to `to` after the link's serialisation time plus half the RTT, in
 * order, pausing `from` while too much waits (TCP flow control would do the same).
 */
function pipeShaped(
  from: Socket,
  to: Socket,
  link: { pacer: Pacer; oneWayMs: number; notBefore: number },
  counted: (n: number) => void,
) {
  const queue: { at: number; chunk: Buffer }[] = [];
  let queued = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;

  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && (queue[0]?.at ?? 0) <= now + 0.5) {
      const { chunk } = queue.shift() as { chunk: Buffer };
      queued -= chunk.length;
      if (!to.destroyed) to.write(chunk);
    }
    if (queued < HIGH_WATER && from.isPaused() && !to.writableNeedDrain) from.resume();
    if (queue.length) schedule();
    else if (ended) to.end();
  };
  const schedule = () => {
    if (timer || !queue.length) return;
    timer = setTimeout(flush, Math.max(0, (queue[0]?.at ?? 0) - performance.now()));
  };

  from.on('data', (chunk: Buffer) => {
    counted(chunk.length);
    const at = Math.max(link.pacer.depart(chunk.length), link.notBefore) + link.oneWayMs;
    // Unshaped: no timer in the way (a timer costs at least 1 ms, which would cap throughput).
    if (!queue.length && at <= performance.now()) {
      if (!to.write(chunk)) from.pause();
      return;
    }
    queue.push({ at, chunk });
    queued += chunk.length;
    if (queued >= HIGH_WATER || to.writableNeedDrain) from.pause();
    schedule();
  });
  to.on('drain', () => {
    if (queued < HIGH_WATER) from.resume();
  });
  from.on('end', () => {
    ended = true;
    if (!queue.length && !timer) to.end();
  });
  from.on('close', () => {
    // A reset, not an orderly end: the peer sees the connection drop too.
    if (!ended) to.destroy();
  });
  to.on('close', () => {
    if (timer) clearTimeout(timer);
  });
}

/**
 * A TCP proxy that makes loopback look like the internet: it adds round-trip delay, caps the
 * bandwidth, and counts connections and TLS handshakes. It does not look inside TLS, so clients
 * verify the upstream's own certificate (issued for 127.0.0.1, which the proxy shares).
 */
export async function startShapedProxy(upstream: string, options: ShapeOptions = {}): Promise<ShapedProxy> {
  const [upHost, upPort] = [
    upstream.slice(0, upstream.lastIndexOf(':')),
    upstream.slice(upstream.lastIndexOf(':') + 1),
  ];
  const oneWayMs = (options.rttMs ?? 0) / 2;
  const down = new Pacer(options.bitsPerSecond ?? 0);
  const up = new Pacer(options.bitsPerSecond ?? 0);
  const fresh = (): LinkCounts => ({
    connections: 0,
    tlsHandshakes: 0,
    peakOpen: 0,
    bytesUp: 0,
    bytesDown: 0,
  });
  let counts = fresh();
  let open = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    counts.connections++;
    open++;
    counts.peakOpen = Math.max(counts.peakOpen, open);
    const registry = connect({ host: upHost, port: Number(upPort) });
    for (const s of [client, registry]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.once('close', () => open--);
    client.once('data', (first: Buffer) => {
      if (first[0] === 0x16) counts.tlsHandshakes++;
    });
    // The client's first bytes leave only after the TCP handshake's round trip (SYN, SYN-ACK).
    const handshakeDone = performance.now() + 2 * oneWayMs;
    const upLink = { pacer: up, oneWayMs, notBefore: handshakeDone };
    pipeShaped(client, registry, upLink, (n) => (counts.bytesUp += n));
    pipeShaped(registry, client, { pacer: down, oneWayMs, notBefore: 0 }, (n) => (counts.bytesDown += n));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts: () => ({ ...counts }),
    reset: () => {
      counts = fresh();
      counts.peakOpen = open;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
