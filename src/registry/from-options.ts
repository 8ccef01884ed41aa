import type { Logger } from '../util/log.js';
import { RegistryClient } from './client.js';
import type { CredentialStore } from './credentials.js';

/** The registry settings of a job, by the names the job's options use. */
export interface RegistrySettings {
  logger: Logger;
  insecureRegistries?: string[];
  mirrors?: Record<string, string[]>;
  caFiles?: string[];
  credentials?: CredentialStore;
  /** Requests at once; also the connections kept per registry, so that none waits for a socket. */
  concurrency?: number;
  /** A response whose next bytes take longer than this aborts the attempt (default 30 s). */
  idleTimeoutMs?: number;
  /** Longest Retry-After honoured (default 60 s); a registry that asks for more fails at once. */
  maxRetryAfterMs?: number;
}

/** The one way the front ends and the job build a client from their options. */
export function registryClientFrom(settings: RegistrySettings): RegistryClient {
  return new RegistryClient({
    logger: settings.logger,
    insecureHosts: settings.insecureRegistries,
    mirrors: settings.mirrors,
    caFiles: settings.caFiles,
    credentials: settings.credentials,
    connectionsPerHost: settings.concurrency,
    idleTimeoutMs: settings.idleTimeoutMs,
    maxRetryAfterMs: settings.maxRetryAfterMs,
  });
}
