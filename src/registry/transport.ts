import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { Agent, EnvHttpProxyAgent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { ErrorCode } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { allowsPlainHttp, isListedInsecure } from './hosts.js';

export type Headers = Record<string, string>;
export type Method = 'GET' | 'HEAD' | 'POST';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered, after redirects. */
  url: URL;
}

/** One request: `authorization` goes only to `url`'s own origin, never along a redirect. */
export interface RequestOptions {
  method: Method;
  url: URL;
  headers?: Headers;
  authorization?: string;
  body?: string;
  /** Tries for this request, fewer than the transport's for a probe. */
  attempts?: number;
}

export interface TransportOptions {
  /** Hosts (host or host:port) allowed over plain HTTP or unverified TLS, besides loopback. */
  insecureHosts?: string[];
  /** Files of extra PEM CA certificates trusted for TLS, on top of the system roots and NODE_EXTRA_CA_CERTS. */
  caFiles?: string[];
  /** Connections per origin; requests beyond it queue in that origin's pool. */
  connectionsPerHost?: number;
  /** Attempts for retryable failures (connection errors, 408, 429, 5xx, cut or stalled bodies). */
  attempts?: number;
  /** Base of the exponential backoff, in ms. */
  backoffMs?: number;
  /** Longest wait honoured from Retry-After, in ms; a registry that asks for more is not retried. */
  maxRetryAfterMs?: number;
  /** A response whose headers or next body bytes take longer than this (ms) is abandoned (default 30 s). */
  idleTimeoutMs?: number;
  logger: Logger;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 5;

/** Thrown when a request could not get an answer after every retry; `code` says why. */
export class NetworkError extends Error {
  readonly code: ErrorCode;
  constructor(
    message: string,
    readonly url: URL,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NetworkError';
    this.code = networkErrorCode(options?.cause);
  }
}

/** True when the environment names a proxy (HTTP_PROXY/HTTPS_PROXY in either case). */
function proxyConfigured(): boolean {
  return ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((v) => process.env[v]);
}

/**
 * HTTP for registries: one connection pool per origin (undici's Agent keeps them, so blob
 * storage behind a redirect has its own), HTTP/2 where TLS offers it, keep-alive after HEAD,
 * retries with backoff and jitter, capped Retry-After, HTTPS_PROXY/NO_PROXY from the
 * environment, and redirects that never carry Authorization to another origin (presigned CDN
 * URLs reject it, and the credentials belong to the registry alone).
 */
export class Transport {
  private readonly options: Required<Omit<TransportOptions, 'logger'>> & { logger: Logger };
  private readonly dispatchers = new Map<boolean, Dispatcher>();

  constructor(options: TransportOptions) {
    // `??` rather than spreading defaults: callers pass options explicitly set to undefined.
    this.options = {
      logger: options.logger,
      insecureHosts: options.insecureHosts ?? [],
      caFiles: options.caFiles ?? [],
      connectionsPerHost: options.connectionsPerHost ?? 6,
      attempts: options.attempts ?? 5,
      backoffMs: options.backoffMs ?? 250,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    };
  }

  get attempts(): number {
    return this.options.attempts;
  }

  get idleTimeoutMs(): number {
    return this.options.idleTimeoutMs;
  }

  /** Plain HTTP allowed (loopback, or listed by the user). */
  allowsPlainHttp(host: string): boolean {
    return allowsPlainHttp(host, this.options.insecureHosts);
  }

  /** One dispatcher for verified TLS and one for hosts listed as insecure; each pools per origin. */
  private dispatcher(url: URL): Dispatcher {
    const insecure = isListedInsecure(url.host, this.options.insecureHosts);
    let dispatcher = this.dispatchers.get(insecure);
    if (!dispatcher) {
      const tls = { rejectUnauthorized: !insecure, ...this.trustedCertificates() };
      const common = {
        connections: this.options.connectionsPerHost,
        // One TLS connection multiplexes every request to a registry that speaks HTTP/2.
        allowH2: true,
        headersTimeout: this.options.idleTimeoutMs,
        bodyTimeout: this.options.idleTimeoutMs,
      };
      dispatcher = proxyConfigured()
        ? new EnvHttpProxyAgent({ ...common, connect: tls, requestTls: tls })
        : new Agent({ ...common, connect: tls });
      this.dispatchers.set(insecure, dispatcher);
    }
    return dispatcher;
  }

  /**
   * Passing `ca` replaces Node's trust store, so the system roots and NODE_EXTRA_CA_CERTS are
   * added back next to the user's files. The context is built once: given as `ca`, every new
   * connection parsed some 150 certificates again (about 50 ms of CPU each).
   */
  private trustedCertificates(): { secureContext?: SecureContext } {
    if (!this.options.caFiles.length) return {};
    const extra = [...this.options.caFiles, process.env.NODE_EXTRA_CA_CERTS].filter((f): f is string =>
      Boolean(f),
    );
    this.secureContext ??= createSecureContext({
      ca: [...rootCertificates, ...extra.map((f) => readFileSync(f, 'utf8'))],
    });
    return { secureContext: this.secureContext };
  }

  private secureContext?: SecureContext;

  /** One request with retries and redirects. The caller must consume or dump the body. */
  async request(options: RequestOptions): Promise<HttpResponse> {
    const { method, url, authorization, body } = options;
    const authOrigin = url.origin;
    let current = url;
    for (let hop = 0; ; hop++) {
      const headers = { ...options.headers };
      if (authorization && current.origin === authOrigin) headers.authorization = authorization;
      const res = await this.requestWithRetries(method, current, headers, body, options.attempts);
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        await res.body.dump();
        if (hop >= MAX_REDIRECTS) throw new NetworkError(`too many redirects from ${url.href}`, url);
        current = new URL(String(res.headers.location), current);
        if (
          current.protocol === 'http:' &&
          url.protocol === 'https:' &&
          !this.allowsPlainHttp(current.host)
        ) {
          throw new NetworkError(`refusing redirect from HTTPS to plain HTTP (${current.origin})`, current);
        }
        continue;
      }
      return res;
    }
  }

  private async requestWithRetries(
    method: Method,
    url: URL,
    headers: Headers,
    body?: string,
    attempts = this.options.attempts,
  ): Promise<HttpResponse> {
    const { logger } = this.options;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        const r = await this.dispatcher(url).request({
          origin: url.origin,
          method,
          path: url.pathname + url.search,
          headers,
          body,
          // undici closes the connection after every HEAD unless told not to: N tags would cost N connections.
          ...(method === 'HEAD' ? { reset: false } : {}),
        });
        res = { status: r.statusCode, headers: r.headers, body: r.body, url };
      } catch (err) {
        if (attempt >= attempts || !isRetryableError(err)) {
          throw new NetworkError(`${method} ${url.origin}${url.pathname}: ${describeError(err)}`, url, {
            cause: err,
          });
        }
        const wait = this.backoff(attempt);
        logger.debug(`retrying ${url.origin}${url.pathname} in ${wait} ms after ${describeError(err)}`);
        await sleep(wait);
        continue;
      }
      if (!RETRY_STATUS.has(res.status) || attempt >= attempts) return res;
      const asked = retryAfterMs(res.headers['retry-after']);
      // Waiting less than asked would only earn another refusal: hand the answer back instead.
      if (asked !== undefined && asked > this.options.maxRetryAfterMs) return res;
      await res.body.dump();
      const wait = asked ?? this.backoff(attempt);
      const note = `${url.host} answered HTTP ${res.status}`;
      // A wait the user notices is said at info level, so a slow run explains itself.
      if (asked !== undefined && asked >= 1000)
        logger.info(
          `${note} and asked to wait ${formatSeconds(asked)}; waiting, attempt ${attempt + 1} of ${attempts}`,
        );
      else logger.debug(`${note}; retrying in ${wait} ms, attempt ${attempt + 1} of ${attempts}`);
      await sleep(wait);
    }
  }

  /** A wait before retry `attempt` (1-based): exponential with full jitter around the base. */
  backoff(attempt: number): number {
    const base = this.options.backoffMs * 2 ** (attempt - 1);
    return Math.round(base / 2 + Math.random() * base);
  }

  async close(): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((d) => d.close()));
    this.dispatchers.clear();
  }
}

/** Retry-After in ms (seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** Failures worth another try: the connection, not the request, went wrong. */
export function isRetryableError(err: unknown): boolean {
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ResponseContentLengthMismatchError
  )
    return true;
  if (err instanceof undiciErrors.SocketError || err instanceof undiciErrors.ConnectTimeoutError) return true;
  const code = (err as { code?: string }).code;
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET'].includes(
    code ?? '',
  );
}

const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function errorCodeOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return e?.cause?.code ?? e?.code ?? '';
}

/** True when TLS failed because the server's certificate is not trusted. */
export function isCertificateError(err: unknown): boolean {
  return CERTIFICATE_ERRORS.has(errorCodeOf(err));
}

/** True when a TLS handshake got something that is not TLS back: a plain-HTTP server. */
export function isPlainHttpAnswer(err: unknown): boolean {
  const code = errorCodeOf(err);
  const e = err as { message?: string; cause?: { message?: string } } | undefined;
  const message = `${e?.cause?.message ?? ''} ${e?.message ?? ''}`;
  return (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    /wrong version number|packet length too long/i.test(message)
  );
}

/** What a failed connection means for the user: a name that did not resolve, a certificate, no answer. */
export function networkErrorCode(err: unknown): ErrorCode {
  const code = errorCodeOf(err);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return 'dns';
  if (isCertificateError(err)) return 'untrusted-certificate';
  if (isPlainHttpAnswer(err)) return 'plain-http';
  return 'unreachable';
}

export function describeError(err: unknown): string {
  if (err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.HeadersTimeoutError)
    return 'no bytes arrived within the idle timeout';
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
