import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from '../util/log.js';

interface UndiciRequest {
  method?: string;
  origin?: string | URL;
  path?: string;
}

/**
 * Logs every HTTP request undici makes as one debug line, from undici's diagnostics channels,
 * so the registry code needs no logging of its own. Query strings are cut: signed blob-storage
 * URLs carry credentials there. Returns the function that stops it.
 */
export function logRequests(logger: Logger): () => void {
  const where = (r: UndiciRequest) =>
    `${r.method ?? 'GET'} ${String(r.origin ?? '').replace(/\/$/, '')}${(r.path ?? '').split('?')[0]}`;
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: UndiciRequest; response: { statusCode: number } };
    logger.debug(`${where(request)} -> ${response.statusCode}`);
  };
  const onError = (message: unknown) => {
    const { request, error } = message as { request: UndiciRequest; error: Error };
    logger.debug(`${where(request)} -> ${error.message.replace(/\s+/g, ' ').trim()}`);
  };
  subscribe('undici:request:headers', onHeaders);
  subscribe('undici:request:error', onError);
  return () => {
    unsubscribe('undici:request:headers', onHeaders);
    unsubscribe('undici:request:error', onError);
  };
}
