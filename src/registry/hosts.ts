import { isIP } from 'node:net';

/**
 * Hosts spoken to over plain HTTP (or TLS without verification), as Docker allows:
 * loopback always, anything else only when the user lists it as insecure.
 */
export function isLoopbackHost(hostPort: string): boolean {
  // Host names are case-insensitive: LOCALHOST:5000 is loopback too.
  const host = stripPort(hostPort)
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

export function stripPort(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(0, hostPort.indexOf(']') + 1);
  const i = hostPort.lastIndexOf(':');
  return i >= 0 ? hostPort.slice(0, i) : hostPort;
}

/** Hosts the user listed as insecure: plain HTTP allowed, TLS certificates not verified. */
export function isListedInsecure(hostPort: string, insecure: readonly string[]): boolean {
  const listed = insecure.map((h) => h.toLowerCase());
  const host = hostPort.toLowerCase();
  return listed.includes(host) || listed.includes(stripPort(host));
}

/**
 * Hosts that may be spoken to over plain HTTP: loopback (as Docker allows) and listed ones.
 * TLS to loopback is still verified: a local registry with its own CA needs that CA trusted.
 */
export function allowsPlainHttp(hostPort: string, insecure: readonly string[]): boolean {
  return isLoopbackHost(hostPort) || isListedInsecure(hostPort, insecure);
}
