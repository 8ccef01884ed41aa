import { isDigest, sha256Digest } from '../oci/digest.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import { registryHost, type ImageReference } from '../references/reference.js';
import { errorMessage, UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Authenticator } from './auth.js';
import { CredentialStore } from './credentials.js';
import {
  describeError,
  header,
  isCertificateError,
  isRetryableError,
  NetworkError,
  sleep,
  Transport,
  type HttpResponse,
  type TransportOptions,
} from './transport.js';

/** Where a blob's bytes go: the layout's BlobWriter satisfies it. */
export interface BlobSink {
  readonly written: number;
  write(chunk: Buffer): Promise<void>;
  reset(): Promise<void>;
}

export interface ManifestBytes {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ResolvedTag {
  digest: string;
  mediaType: string;
  size: number;
}

export interface RegistryClientOptions extends TransportOptions {
  credentials?: CredentialStore;
  /** Mirrors per registry domain (`docker.io` -> [`mirror.example:5000`]), tried first. */
  mirrors?: Record<string, string[]>;
}

/** A manifest larger than this is not a manifest (registries cap them at 4 MiB). */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

/**
 * The distribution protocol: tag resolution, manifests by digest, blob streams. Auth and HTTP
 * details live in Authenticator and Transport; this layer knows URLs, status codes and what
 * to tell the user when a registry says no.
 */
export class RegistryClient {
  readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly bases = new Map<string, Promise<URL>>();
  private readonly logger: Logger;
  private readonly mirrors: Record<string, string[]>;
  private readonly deadMirrors = new Set<string>();

  constructor(options: RegistryClientOptions) {
    this.logger = options.logger;
    this.mirrors = options.mirrors ?? {};
    this.transport = new Transport(options);
    this.auth = new Authenticator(
      this.transport,
      options.credentials ?? new CredentialStore(),
      options.logger,
    );
  }

  /** Resolves a tag to the digest of what it points at, with HEAD (free under Docker Hub's pull limit). */
  async resolveTag(ref: ImageReference): Promise<ResolvedTag> {
    if (!ref.tag) throw new Error(`resolveTag needs a tag: ${ref.original}`);
    const res = await this.send('HEAD', ref, `manifests/${ref.tag}`, { accept: MANIFEST_ACCEPT });
    await this.check(res, ref, `tag ${ref.tag}`);
    await res.body.dump();
    const digest = header(res, 'docker-content-digest');
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const size = Number(header(res, 'content-length') ?? NaN);
    if (digest && isDigest(digest) && Number.isFinite(size)) return { digest, mediaType, size };
    // Some registries omit Docker-Content-Digest on HEAD: the digest of the body is the answer.
    const m = await this.fetchManifest(ref, ref.tag);
    return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
  }

  /** Fetches a manifest or index by digest (or tag) and checks its bytes against the digest. */
  async fetchManifest(ref: ImageReference, digestOrTag: string): Promise<ManifestBytes> {
    const res = await this.send('GET', ref, `manifests/${digestOrTag}`, { accept: MANIFEST_ACCEPT });
    await this.check(res, ref, isDigest(digestOrTag) ? `manifest ${digestOrTag}` : `tag ${digestOrTag}`);
    const length = Number(header(res, 'content-length') ?? 0);
    if (length > MAX_MANIFEST_BYTES) {
      await res.body.dump();
      throw new UserError(
        `${this.where(ref)}: manifest ${digestOrTag} is ${length} bytes, too large for a manifest`,
      );
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const digest = sha256Digest(bytes);
    const claimed = header(res, 'docker-content-digest');
    if (isDigest(digestOrTag) && digest !== digestOrTag) {
      throw new UserError(
        `${this.where(ref)}: manifest ${digestOrTag} arrived with digest ${digest}: the registry or a proxy altered it`,
      );
    }
    if (claimed && isDigest(claimed) && claimed !== digest) {
      throw new UserError(
        `${this.where(ref)}: manifest for ${digestOrTag} hashes to ${digest} but the registry says ${claimed}`,
      );
    }
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    return { digest, mediaType, bytes };
  }

  /**
   * Downloads a blob into `sink`, following redirects to blob storage (without our
   * Authorization). A connection cut mid-body resumes with `Range` from the bytes already
   * received; a server that answers 200 instead of 206 sends everything again.
   */
  async downloadBlob(ref: ImageReference, digest: string, sink: BlobSink): Promise<void> {
    let failures = 0;
    for (;;) {
      const offset = sink.written;
      const res = await this.send(
        'GET',
        ref,
        `blobs/${digest}`,
        offset > 0 ? { range: `bytes=${offset}-` } : {},
      );
      if (res.status === 206) {
        const start = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '')?.[1];
        if (Number(start) !== offset) {
          // A range we did not ask for: start over rather than splice wrong bytes.
          await res.body.dump();
          await sink.reset();
          continue;
        }
      } else {
        await this.check(res, ref, `blob ${digest}`);
        if (offset > 0) await sink.reset();
      }
      const before = sink.written;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) await sink.write(chunk);
        return;
      } catch (err) {
        res.body.destroy();
        if (!isRetryableError(err)) throw err;
        // Progress since the last failure earns a fresh set of attempts.
        failures = sink.written > before ? 1 : failures + 1;
        if (failures >= this.transport.attempts) {
          throw new UserError(
            `${this.where(ref)}: downloading blob ${digest} failed ${failures} times: ${describeError(err)}`,
          );
        }
        const wait = this.transport.backoff(failures);
        this.logger.debug(
          `blob ${digest} cut at ${sink.written} bytes (${describeError(err)}); resuming in ${wait} ms`,
        );
        await sleep(wait);
      }
    }
  }

  /** `image X on registry Y`: the prefix of every message about a request. */
  where(ref: ImageReference): string {
    return `image ${ref.original} (registry ${ref.domain})`;
  }

  /**
   * Sends a request for `ref`, to its mirrors first (each in turn, skipping one that failed
   * to answer), then to the registry itself. A mirror's error answer is never final.
   */
  private async send(
    method: 'GET' | 'HEAD',
    ref: ImageReference,
    suffix: string,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    for (const mirror of this.mirrors[ref.domain] ?? []) {
      if (this.deadMirrors.has(mirror)) continue;
      try {
        const res = await this.sendTo(mirror, mirror, method, ref, suffix, headers);
        if (res.status < 400) return res;
        await res.body.dump();
        this.logger.debug(
          `mirror ${mirror} answered HTTP ${res.status} for ${ref.original} ${suffix}; asking ${ref.domain}`,
        );
      } catch (err) {
        this.deadMirrors.add(mirror);
        this.logger.warn(
          `mirror ${mirror} of ${ref.domain} failed (${errorMessage(err)}); using ${ref.domain} itself`,
        );
      }
    }
    return this.sendTo(registryHost(ref.domain), ref.domain, method, ref, suffix, headers);
  }

  /** One request to `host`, answering its auth challenges with the credentials of `credentialsFor`. */
  private async sendTo(
    host: string,
    credentialsFor: string,
    method: 'GET' | 'HEAD',
    ref: ImageReference,
    suffix: string,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    const base = await this.base(ref, host);
    const url = new URL(`/v2/${ref.path}/${suffix}`, base);
    const scope = `repository:${ref.path}:pull`;
    for (let round = 0; ; round++) {
      const authorization = await this.auth.authorization(base.origin, credentialsFor, scope);
      let res: HttpResponse;
      try {
        res = await this.transport.request(method, url, headers, authorization);
      } catch (err) {
        if (err instanceof NetworkError) {
          throw new UserError(
            `${this.where(ref)}: cannot reach ${err.url.origin}: ${describeError(err.cause ?? err)}`,
            {
              cause: err,
            },
          );
        }
        throw err;
      }
      if (res.status !== 401 || round >= 2) return res;
      // Hand the 401 back untouched (its body explains it) unless a retry can do better.
      if (
        !(await this.auth.unauthorized(
          base.origin,
          header(res, 'www-authenticate'),
          scope,
          authorization !== undefined,
        ))
      ) {
        return res;
      }
      await res.body.dump();
    }
  }

  /**
   * A host's base URL. Secure hosts are HTTPS. Loopback and insecure hosts try HTTPS first and
   * fall back to plain HTTP, as Docker does. The /v2/ answer also tells us early which auth
   * scheme the registry wants.
   */
  private base(ref: ImageReference, host: string): Promise<URL> {
    let base = this.bases.get(host);
    if (!base) {
      base = this.ping(ref, host);
      this.bases.set(host, base);
      base.catch(() => this.bases.delete(host));
    }
    return base;
  }

  private async ping(ref: ImageReference, host: string): Promise<URL> {
    const plain = this.transport.allowsPlainHttp(host);
    let failure = '';
    for (const scheme of plain ? ['https', 'http'] : ['https']) {
      const url = new URL(`${scheme}://${host}/v2/`);
      try {
        const res = await this.transport.request('GET', url, { accept: 'application/json' });
        await res.body.dump();
        if (res.status === 401) this.auth.learn(url.origin, header(res, 'www-authenticate'));
        if (res.status === 200 || res.status === 401 || res.status === 404)
          return new URL(`${scheme}://${host}/`);
        failure ||= `GET ${url.href} answered HTTP ${res.status}`;
      } catch (err) {
        // Only a failed connection means "unreachable"; anything else is a bug to surface as it is.
        if (!(err instanceof NetworkError)) throw err;
        const cause = err.cause ?? err;
        this.logger.debug(`${url.href}: ${describeError(cause)}`);
        if (isCertificateError(cause)) {
          // The server speaks TLS, so plain HTTP will not help: say what will.
          throw new UserError(
            `${this.where(ref)}: the TLS certificate of ${host} is not trusted (${describeError(cause)}): pass its CA with --ca-file (action: NODE_EXTRA_CA_CERTS), or list it with --insecure-registry ${host} to skip verification`,
          );
        }
        failure ||= describeError(cause);
      }
    }
    throw new UserError(
      `${this.where(ref)}: cannot reach the registry at ${host}: ${failure}` +
        (plain ? '' : ` (a plain-HTTP registry must be listed with --insecure-registry ${host})`),
    );
  }

  /** Turns a registry's refusal into a message that says what to do. */
  private async check(res: HttpResponse, ref: ImageReference, what: string): Promise<void> {
    if (res.status === 200 || res.status === 206) return;
    let detail = '';
    try {
      const parsed = JSON.parse(await res.body.text()) as { errors?: { code?: string; message?: string }[] };
      detail = parsed.errors?.map((e) => e.code ?? e.message).join(', ') ?? '';
    } catch {
      // No JSON error body (a HEAD answer): the status says enough.
    }
    const suffix = detail ? ` (${detail})` : '';
    const where = this.where(ref);
    switch (res.status) {
      case 401:
      case 403:
        throw new UserError(
          `${where}: access to ${what} denied, HTTP ${res.status}${suffix}: check the name, or log in with docker login ${ref.domain} (docker/login-action in a workflow)`,
        );
      case 404:
        throw new UserError(`${where}: ${what} not found, HTTP 404${suffix}: check the image name and tag`);
      case 429:
        throw new UserError(
          `${where}: rate limit hit, HTTP 429${rateLimitDetail(res)}: log in to raise the limit (anonymous pulls have the lowest), or use a mirror (--mirror)`,
        );
      default:
        throw new UserError(`${where}: fetching ${what} failed, HTTP ${res.status}${suffix}`);
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

/**
 * What the registry says of its limit: Docker Hub sends `ratelimit-limit: 100;w=21600` and
 * `ratelimit-remaining`; others send the IETF `ratelimit-reset` or Retry-After.
 */
function rateLimitDetail(res: HttpResponse): string {
  const parts: string[] = [];
  const limit = /^(\d+)(?:;w=(\d+))?/.exec(header(res, 'ratelimit-limit') ?? '');
  if (limit)
    parts.push(`limit ${limit[1]}${limit[2] ? ` per ${Math.round(Number(limit[2]) / 3600)} h` : ''}`);
  const remaining = /^(\d+)/.exec(header(res, 'ratelimit-remaining') ?? '');
  if (remaining) parts.push(`${remaining[1]} remaining`);
  const reset = header(res, 'ratelimit-reset') ?? header(res, 'retry-after');
  if (reset) parts.push(/^\d+$/.test(reset) ? `resets in ${reset} s` : `resets at ${reset}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
