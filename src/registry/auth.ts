import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { parseChallenges, type Challenge } from './challenge.js';
import type { CredentialStore, Credentials } from './credentials.js';
import type { Transport } from './transport.js';

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
      const creds = await this.credentials.get(domain);
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
    if (!realm)
      throw new UserError(`registry ${domain} asked for a bearer token but named no token service (realm)`);
    const url = new URL(realm);
    if (
      url.protocol !== 'https:' &&
      !(url.protocol === 'http:' && this.transport.allowsPlainHttp(url.host))
    ) {
      throw new UserError(
        `registry ${domain} sends us to token service ${url.origin} over plain HTTP; refusing (add --insecure-registry ${url.host} if you trust it)`,
      );
    }
    const creds = await this.credentials.get(domain);
    const service = challenge.params.service;
    let res;
    if (creds?.identityToken) {
      // An identity token is an OAuth2 refresh token: exchange it with a form POST.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'cache-images',
        scope,
        ...(service ? { service } : {}),
      });
      this.logger.secret(creds.identityToken);
      res = await this.transport.request(
        'POST',
        url,
        { 'content-type': 'application/x-www-form-urlencoded' },
        undefined,
        form.toString(),
      );
    } else {
      if (service) url.searchParams.set('service', service);
      url.searchParams.append('scope', scope);
      if (creds) this.logger.secret(creds.password);
      res = await this.transport.request(
        'GET',
        url,
        { accept: 'application/json' },
        creds ? basic(creds) : undefined,
      );
    }
    if (res.status === 401 || res.status === 403) {
      await res.body.dump();
      throw new UserError(
        creds
          ? `registry ${domain} refused the credentials from your docker config (token service answered HTTP ${res.status}): run docker login ${domain} again`
          : `registry ${domain} requires a login to pull (token service answered HTTP ${res.status}): run docker login ${domain}, or use docker/login-action in the workflow`,
      );
    }
    if (res.status !== 200) {
      await res.body.dump();
      throw new UserError(`token service ${url.origin} of registry ${domain} answered HTTP ${res.status}`);
    }
    const body = (await res.body.json()) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token || body.access_token;
    if (!value) throw new UserError(`token service ${url.origin} of registry ${domain} returned no token`);
    this.logger.secret(value);
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { value, expiresAt: Date.now() + ttl * 1000 };
  }
}

function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
