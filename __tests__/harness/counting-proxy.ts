import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface CountingProxy {
  /** `127.0.0.1:PORT`, standing in for the upstream host. */
  host: string;
  /** TCP connections opened through the proxy so far. */
  connections(): number;
  stop(): Promise<void>;
}

/**
 * A TCP proxy that counts connections and passes bytes through untouched (TLS included), so
 * a test can count what a client opens to a server it does not control; or that resets TLS
 * handshakes, standing in for a plain-HTTP registry that fails HTTPS without a TLS alert.
 */
export async function startCountingProxy(
  upstream: string,
  options: { dropTls?: boolean } = {},
): Promise<CountingProxy> {
  const [upHost, upPort] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.split(':').pop())];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const server = connect(upPort, upHost);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    // dropTls: a server that resets a TLS handshake (first byte 0x16) but speaks plain HTTP.
    client.once('data', (first: Buffer) => {
      if (options.dropTls && first[0] === 0x16) {
        client.resetAndDestroy();
        server.destroy();
        return;
      }
      server.write(first);
      client.pipe(server).pipe(client);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
