import { isIP } from 'node:net';

/**
 * Hosts spoken to over plain HTTP (or TLS without verification), as Docker allows:
 * loopback always, anything else only when the user lists it as insecure.
 */
export function isLoopbackHost(hostPort: string): boolean {
  const host = stripPort(hostPort).replace(/^\[|\]$/g, '');
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

export function isInsecureHost(hostPort: string, insecure: readonly string[]): boolean {
  return isLoopbackHost(hostPort) || insecure.includes(hostPort) || insecure.includes(stripPort(hostPort));
}
