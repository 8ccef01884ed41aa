import type { Descriptor, ImageConfig, ManifestDocument } from '../oci/documents.js';
import { isDigest, sha256Digest } from '../oci/digest.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import { DocumentError, MAX_DOCUMENT_BYTES, parseConfig, parseManifest } from '../oci/parse.js';
import { registryHost, type ImageReference } from '../references/reference.js';
import { errorMessage, UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Authenticator } from './auth.js';
import { CredentialStore } from './credentials.js';
import { readCapped, TooLargeError } from './read-capped.js';
import { checkResponse, refError, where } from './refusal.js';
import { ResumeExhausted, streamWithResume, type BlobSink } from './resume.js';
import {
  describeError,
  formatSeconds,
  header,
  isRetryableError,
  NetworkError,
  sleep,
  Transport,
  type HttpResponse,
  type TransportOptions,
} from './transport.js';

export type { BlobSink } from './resume.js';

export interface ManifestBytes {
  digest: string;
  /** The document's own mediaType, else the registry's Content-Type when that is a manifest type. */
  mediaType: string;
  bytes: Buffer;
  document: ManifestDocument;
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

/**
 * The distribution protocol: tag resolution, manifests by digest, blob streams. Auth and HTTP
 * details live in Authenticator and Transport; this layer knows URLs and status codes, and
 * turns every failure into a UserError with a code and the image, registry and blob.
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
    await checkResponse(res, ref, `tag ${ref.tag}`);
    await res.body.dump();
    const digest = header(res, 'docker-content-digest');
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const size = Number(header(res, 'content-length') ?? NaN);
    if (digest && isDigest(digest) && Number.isFinite(size)) return { digest, mediaType, size };
    // Some registries omit Docker-Content-Digest on HEAD: the digest of the body is the answer.
    const m = await this.fetchManifest(ref, ref.tag);
    return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
  }

  /**
   * Fetches a manifest or index by digest (or tag), at most MAX_DOCUMENT_BYTES, checks its bytes
   * against the digest and parses it; `mediaType` is what index.json should record.
   */
  async fetchManifest(ref: ImageReference, digestOrTag: string): Promise<ManifestBytes> {
    const pinned = isDigest(digestOrTag);
    const what = pinned ? `manifest ${digestOrTag}` : `tag ${digestOrTag}`;
    const blob = pinned ? digestOrTag : undefined;
    const accept = { accept: MANIFEST_ACCEPT };
    const read = await this.readDocument(ref, `manifests/${digestOrTag}`, what, MAX_DOCUMENT_BYTES, accept);
    const { bytes, res } = read;
    const digest = sha256Digest(bytes);
    const claimed = header(res, 'docker-content-digest');
    const altered = pinned && digest !== digestOrTag;
    if (altered || (claimed && isDigest(claimed) && claimed !== digest)) {
      const why = altered
        ? `arrived with digest ${digest}: the registry or a proxy altered it`
        : `hashes to ${digest} but the registry says ${claimed}`;
      throw refError(ref, 'corrupt', `${what} ${why}`, { blob });
    }
    const contentType = (header(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const document = this.parsed(ref, digest, () => parseManifest(bytes, contentType));
    return { digest, mediaType: document.mediaType, bytes, document };
  }

  /**
   * A small blob (an image config) read into memory, at most `cap` bytes, checked against the
   * descriptor's digest and size. Large blobs go through downloadBlob instead.
   */
  async fetchBlobBytes(
    ref: ImageReference,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    cap = MAX_DOCUMENT_BYTES,
  ): Promise<Buffer> {
    const { digest, size } = descriptor;
    const what = `blob ${digest}`;
    const { bytes } = await this.readDocument(ref, `blobs/${digest}`, what, Math.min(cap, size), {}, digest);
    const actual = sha256Digest(bytes);
    if (actual !== digest || bytes.length !== size)
      throw refError(
        ref,
        'corrupt',
        `${what} is corrupt (${bytes.length} bytes hashing to ${actual}, expected ${size} bytes): nothing was stored`,
        { blob: digest },
      );
    return bytes;
  }

  /** An image config, fetched with fetchBlobBytes and parsed. */
  async fetchConfig(
    ref: ImageReference,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
  ): Promise<{
    bytes: Buffer;
    config: ImageConfig;
  }> {
    const bytes = await this.fetchBlobBytes(ref, descriptor);
    return { bytes, config: this.parsed(ref, descriptor.digest, () => parseConfig(bytes)) };
  }

  /** Runs a parser, turning its DocumentError into one naming the image, registry and document. */
  private parsed<T>(ref: ImageReference, digest: string, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof DocumentError)) throw err;
      throw refError(ref, err.code ?? 'malformed', `${digest}: ${err.message}`, { blob: digest });
    }
  }

  /**
   * GETs a document into memory with the cap enforced while streaming, and the same retries as
   * blobs for a body that is cut or stalls.
   */
  private async readDocument(
    ref: ImageReference,
    suffix: string,
    what: string,
    cap: number,
    headers: Record<string, string>,
    blob?: string,
  ): Promise<{ bytes: Buffer; res: HttpResponse }> {
    const tooLarge = () =>
      refError(ref, 'too-large', `${what} is larger than ${cap} bytes, the most accepted for it`, { blob });
    for (let attempt = 1; ; attempt++) {
      const res = await this.send('GET', ref, suffix, headers);
      await checkResponse(res, ref, what, blob);
      if (Number(header(res, 'content-length') ?? 0) > cap) {
        res.body.destroy();
        throw tooLarge();
      }
      try {
        return { bytes: await readCapped(res.body, cap), res };
      } catch (err) {
        if (err instanceof TooLargeError) throw tooLarge();
        if (!isRetryableError(err)) throw err;
        if (attempt >= this.transport.attempts)
          throw refError(
            ref,
            'registry-failing',
            `reading ${what} failed ${attempt} times: ${this.describe(err)}`,
            { blob, cause: err },
          );
        const wait = this.transport.backoff(attempt);
        this.logger.debug(`${what}: ${this.describe(err)}; retrying in ${wait} ms`);
        await sleep(wait);
      }
    }
  }

  /** A failure in words, with the idle timeout in seconds where that is what happened. */
  private describe(err: unknown): string {
    const text = describeError(err);
    return text.includes('idle timeout')
      ? `no bytes for ${formatSeconds(this.transport.idleTimeoutMs)}`
      : text;
  }

  /**
   * Downloads a blob into `sink`, following redirects to blob storage (without our
   * Authorization). A body cut or stalled mid-way resumes with `Range` from the bytes already
   * received; a server that answers 200 instead of 206 sends everything again.
   */
  async downloadBlob(ref: ImageReference, digest: string, sink: BlobSink): Promise<void> {
    const what = `blob ${digest}`;
    const open = async (offset: number) => {
      for (;;) {
        const res = await this.send(
          'GET',
          ref,
          `blobs/${digest}`,
          offset > 0 ? { range: `bytes=${offset}-` } : {},
        );
        if (res.status === 206) {
          const start = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '')?.[1];
          if (Number(start) === offset) return res.body as HttpResponse['body'] & AsyncIterable<Buffer>;
          // A range we did not ask for: start over rather than splice wrong bytes.
          await res.body.dump();
          await sink.reset();
          offset = 0;
          continue;
        }
        await checkResponse(res, ref, what, digest);
        if (offset > 0) await sink.reset();
        return res.body as HttpResponse['body'] & AsyncIterable<Buffer>;
      }
    };
    try {
      await streamWithResume(
        sink,
        open,
        { attempts: this.transport.attempts, backoff: (n) => this.transport.backoff(n), logger: this.logger },
        what,
      );
    } catch (err) {
      if (!(err instanceof ResumeExhausted)) throw err;
      throw refError(ref, 'registry-failing', `downloading ${what}: ${this.exhausted(err)}`, {
        blob: digest,
        cause: err.last,
      });
    }
  }

  /**
   * What the registry kept doing, in words: "cut the download 5 times, never past byte 100118".
   * The furthest byte, not each cut: bytes that arrived just before a reset may never reach us,
   * so the same cut on the server shows as slightly different ones here.
   */
  private exhausted(err: ResumeExhausted): string {
    const last = this.describe(err.last);
    const done = last.startsWith('no bytes') ? 'the download stalled' : 'the registry cut the download';
    return `${done} ${err.cuts.length} times, never past byte ${err.furthest} (${last})`;
  }

  /** `image X (registry Y)`: the prefix of every message about a request. */
  where(ref: ImageReference): string {
    return where(ref);
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
      const authorization = await this.auth
        .authorization(base.origin, credentialsFor, scope)
        .catch((err: unknown) => Promise.reject(err instanceof UserError ? err.forImage(ref.original) : err));
      let res: HttpResponse;
      try {
        res = await this.transport.request({ method, url, headers, authorization });
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        throw refError(ref, err.code, `cannot reach ${err.url.origin}: ${this.describe(err.cause ?? err)}`, {
          host: err.url.host,
          cause: err,
        });
      }
      if (res.status !== 401 || round >= 2) return res;
      // Hand the 401 back untouched (its body explains it) unless a retry can do better.
      const retry = await this.auth.unauthorized(
        base.origin,
        header(res, 'www-authenticate'),
        scope,
        authorization !== undefined,
      );
      if (!retry) return res;
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
    let failure: NetworkError | string | undefined;
    for (const scheme of plain ? ['https', 'http'] : ['https']) {
      const url = new URL(`${scheme}://${host}/v2/`);
      try {
        const res = await this.transport.request({
          method: 'GET',
          url,
          headers: { accept: 'application/json' },
        });
        await res.body.dump();
        if (res.status === 401) this.auth.learn(url.origin, header(res, 'www-authenticate'));
        if (res.status === 200 || res.status === 401 || res.status === 404)
          return new URL(`${scheme}://${host}/`);
        // An answer says more than a failed connection on the other scheme (a plain-HTTP
        // registry answering 503 fails the HTTPS handshake first).
        failure = `GET ${url.href} answered HTTP ${res.status}`;
      } catch (err) {
        // Only a failed connection means "unreachable"; anything else is a bug to surface as it is.
        if (!(err instanceof NetworkError)) throw err;
        this.logger.debug(`${url.href}: ${describeError(err.cause ?? err)}`);
        // The server speaks TLS, so plain HTTP will not help.
        if (err.code === 'untrusted-certificate')
          throw refError(
            ref,
            err.code,
            `the TLS certificate of ${host} is not trusted (${describeError(err.cause)})`,
            {
              host,
              cause: err,
            },
          );
        failure ??= err;
      }
    }
    if (
      failure instanceof NetworkError &&
      failure.code === 'unreachable' &&
      (await this.answersPlainHttp(host))
    )
      throw refError(
        ref,
        'plain-http',
        `${host} failed over HTTPS (${describeError(failure.cause)}) but answers plain HTTP`,
        {
          host,
          cause: failure,
        },
      );
    if (typeof failure === 'string' || failure === undefined)
      throw refError(
        ref,
        'registry-failing',
        `the registry at ${host} is failing: ${failure ?? 'no answer'}`,
        { host },
      );
    throw refError(ref, failure.code, this.unreachable(host, failure), { host, cause: failure });
  }

  /**
   * Whether a host that failed over HTTPS answers plain HTTP, so the error can say so. Only
   * /v2/ is asked, once and without credentials; the answer is never used for anything else.
   */
  private async answersPlainHttp(host: string): Promise<boolean> {
    if (this.transport.allowsPlainHttp(host)) return false;
    try {
      const res = await this.transport.request({
        method: 'GET',
        url: new URL(`http://${host}/v2/`),
        attempts: 1,
      });
      await res.body.dump();
      return true;
    } catch {
      return false;
    }
  }

  /** Why a host could not be reached, by what the connection said. */
  private unreachable(host: string, err: NetworkError): string {
    const cause = describeError(err.cause ?? err);
    switch (err.code) {
      case 'dns':
        return `the name ${host.replace(/:\d+$/, '')} did not resolve (${cause})`;
      case 'plain-http':
        return `${host} answered HTTPS with plain HTTP (${cause})`;
      default:
        return `cannot reach the registry at ${host}: ${cause}`;
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
