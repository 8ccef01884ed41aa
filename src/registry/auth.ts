import { UserError, type ErrorFacts } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { CredentialStore, Credentials } from './credentials.js';
import { readCapped, TooLargeError } from './read-capped.js';
import { describeError, header, NetworkError, type HttpResponse, type Transport } from './transport.js';

interface Token {
  value: string;
  expiresAt: number;
}

/** Renew a little before the registry's expiry so a request never carries a token that dies in flight. */
const EXPIRY_MARGIN_MS = 10_000;

/**
 * Answers registry challenges: remembers each registry's challenge, fetches bearer tokens
 * per (registry, scope), caches them until they expire, and renews them on insufficient_scope.
 */
export class Authenticator {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, Token>();
  private readonly pending = new Map<string, Promise<Token>>();
  private readonly masked = new Set<string>();

  constructor(
    private readonly transport: Transport,
    private readonly credentials: CredentialStore,
    private readonly logger: Logger,
  ) {}

  /** The Authorization value for a request to `origin` in `scope`, if the registry asked for one. */
  async authorization(origin: string, domain: string, scope: string): Promise<string | undefined> {
    const challenge = this.challenges.get(origin);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = await this.credentialsFor(domain);
      return creds ? basic(creds) : undefined;
    }
    const token = await this.token(origin, domain, scope, challenge);
    return `Bearer ${token.value}`;
  }

  /**
   * Records a 401's challenge. Returns true when a retry with new authorization can succeed,
   * false when we already tried everything we have.
   */
  async unauthorized(
    origin: string,
    wwwAuthenticate: string | undefined,
    scope: string,
    sent: boolean,
  ): Promise<boolean> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const challenge =
      challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) return false;
    const known = this.challenges.get(origin);
    this.challenges.set(origin, challenge);
    if (!sent || !known || known.scheme !== challenge.scheme) return true;
    if (challenge.scheme === 'bearer' && challenge.params.error === 'insufficient_scope') {
      // The token lacks this scope (or was revoked): fetch a new one once.
      const key = `${origin} ${scope}`;
      if (this.tokens.has(key)) {
        this.tokens.delete(key);
        return true;
      }
    }
    return false;
  }

  /** Remembers a registry's challenge learnt from its /v2/ answer. */
  learn(origin: string, wwwAuthenticate: string | undefined): void {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const challenge =
      challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (challenge) this.challenges.set(origin, challenge);
  }

  private async token(origin: string, domain: string, scope: string, challenge: Challenge): Promise<Token> {
    const key = `${origin} ${scope}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now() + EXPIRY_MARGIN_MS) return cached;
    let inflight = this.pending.get(key);
    if (!inflight) {
      inflight = this.fetchToken(domain, scope, challenge).finally(() => this.pending.delete(key));
      this.pending.set(key, inflight);
    }
    const token = await inflight;
    this.tokens.set(key, token);
    return token;
  }

  private async fetchToken(domain: string, scope: string, challenge: Challenge): Promise<Token> {
    const realm = challenge.params.realm;
    const facts = { registry: domain };
    if (!realm)
      throw new UserError(`registry ${domain} asked for a bearer token but named no token service (realm)`, {
        ...facts,
        code: 'unsupported',
      });
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new UserError(
        `registry ${domain} names a token service that is not a URL: ${JSON.stringify(realm)}`,
        {
          ...facts,
          code: 'malformed',
        },
      );
    }
    if (
      url.protocol !== 'https:' &&
      !(url.protocol === 'http:' && this.transport.allowsPlainHttp(url.host))
    ) {
      throw new UserError(
        `registry ${domain} sends us to token service ${url.origin} over plain HTTP; refusing`,
        {
          ...facts,
          host: url.host,
          code: 'plain-http',
        },
      );
    }
    const creds = await this.credentialsFor(domain);
    const res = await this.requestToken(url, domain, scope, challenge.params.service, creds);
    const service = `token service ${url.origin} of registry ${domain}`;
    const tokenFacts = { ...facts, host: url.host };
    if (res.status === 401 || res.status === 403) {
      await res.body.dump();
      throw new UserError(
        creds
          ? `registry ${domain} refused the credentials from your docker config (token service answered HTTP ${res.status})`
          : `registry ${domain} requires a login to pull (token service answered HTTP ${res.status})`,
        { ...tokenFacts, code: 'denied' },
      );
    }
    if (res.status !== 200) {
      await res.body.dump();
      throw new UserError(`${service} answered HTTP ${res.status}`, {
        ...tokenFacts,
        code: 'registry-failing',
      });
    }
    const body = await readTokenBody(res, service, tokenFacts);
    const value = body.token || body.access_token;
    if (typeof value !== 'string' || !value)
      throw new UserError(`${service} returned no token`, { ...tokenFacts, code: 'malformed' });
    this.logger.secret(value);
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { value, expiresAt: Date.now() + ttl * 1000 };
  }

  /** The token request: an OAuth2 refresh-token POST for identity tokens, else a GET with Basic. */
  private async requestToken(
    realm: URL,
    domain: string,
    scope: string,
    service: string | undefined,
    creds: Credentials | undefined,
  ): Promise<HttpResponse> {
    const url = new URL(realm);
    try {
      if (creds?.identityToken) {
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: creds.identityToken,
          client_id: 'cache-images',
          scope,
          ...(service ? { service } : {}),
        });
        return await this.transport.request({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        });
      }
      if (service) url.searchParams.set('service', service);
      url.searchParams.append('scope', scope);
      return await this.transport.request({
        method: 'GET',
        url,
        headers: { accept: 'application/json' },
        authorization: creds ? basic(creds) : undefined,
      });
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      throw new UserError(
        `cannot reach token service ${url.origin} of registry ${domain}: ${describeError(err.cause ?? err)}`,
        { code: err.code, registry: domain, host: url.host, cause: err },
      );
    }
  }

  /**
   * Every form a credential can take in a log line is masked before the first request
   * carries it: the password, user:password, its base64 (the Basic header and config.json's
   * `auth`), and identity tokens.
   */
  private async credentialsFor(domain: string): Promise<Credentials | undefined> {
    const creds = await this.credentials.get(domain);
    if (creds) {
      // Once each: in the action every call prints an add-mask command.
      for (const secret of [creds.password, creds.identityToken, ...credentialForms(creds)]) {
        if (!secret || this.masked.has(secret)) continue;
        this.masked.add(secret);
        this.logger.secret(secret);
      }
    }
    return creds;
  }
}

/** user:password and its base64, as config.json and the Authorization header carry them. */
function credentialForms(creds: Credentials): string[] {
  if (!creds.password) return [];
  const pair = `${creds.username}:${creds.password}`;
  return [pair, Buffer.from(pair).toString('base64')];
}

/** Token responses are a few KiB of JSON; more is not a token service. */
const TOKEN_BODY_CAP = 1024 * 1024;

async function readTokenBody(
  res: HttpResponse,
  service: string,
  facts: ErrorFacts,
): Promise<{ token?: unknown; access_token?: unknown; expires_in?: unknown }> {
  let text: string;
  try {
    text = (await readCapped(res.body, TOKEN_BODY_CAP)).toString('utf8');
  } catch (err) {
    if (!(err instanceof TooLargeError)) throw err;
    throw new UserError(`${service} answered with more than ${TOKEN_BODY_CAP} bytes, which is not a token`, {
      ...facts,
      code: 'too-large',
    });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed;
  } catch {
    // Not JSON: said below.
  }
  const type = header(res, 'content-type') ?? 'no content type';
  throw new UserError(`${service} answered with something that is not a JSON token (${type})`, {
    ...facts,
    code: 'malformed',
  });
}

function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
