import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth refresh token (docker config `identitytoken`), exchanged at the token endpoint. */
  identityToken?: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker Hub's credentials are stored under its legacy index URL. */
const DOCKER_HUB_KEYS = [
  'https://index.docker.io/v1/',
  'index.docker.io',
  'docker.io',
  'registry-1.docker.io',
];

/** The config.json keys that may hold a domain's credentials (docker login writes several forms). */
function keysFor(domain: string): string[] {
  if (DOCKER_HUB_KEYS.includes(domain)) return DOCKER_HUB_KEYS;
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v1/`, `https://${domain}/v2/`];
}

/**
 * Credentials as `docker login` and docker/login-action store them: `$DOCKER_CONFIG/config.json`
 * (or ~/.docker/config.json), inline `auths`, else `credHelpers`/`credsStore` through
 * `docker-credential-<name> get`.
 */
export class CredentialStore {
  private config?: Promise<DockerConfig | undefined>;
  private readonly extra = new Map<string, Credentials>();
  /** One look-up per registry per run: a credential helper may be slow, or prompt a keychain. */
  private readonly found = new Map<string, Promise<Credentials | undefined>>();

  constructor(private readonly configDir = process.env.DOCKER_CONFIG || join(homedir(), '.docker')) {}

  /** Credentials supplied by the caller (e.g. the action's github-token), used when config has none. */
  setFallback(domain: string, credentials: Credentials): void {
    this.extra.set(domain, credentials);
    this.found.delete(domain);
  }

  private load(): Promise<DockerConfig | undefined> {
    const file = join(this.configDir, 'config.json');
    this.config ??= readFile(file, 'utf8').then(
      (text) => {
        try {
          return JSON.parse(text) as DockerConfig;
        } catch {
          throw new UserError(`${file} is not valid JSON: fix or remove it (it holds registry credentials)`, {
            file,
          });
        }
      },
      () => undefined,
    );
    return this.config;
  }

  get(domain: string): Promise<Credentials | undefined> {
    let found = this.found.get(domain);
    if (!found) {
      found = this.lookUp(domain);
      this.found.set(domain, found);
    }
    return found;
  }

  private async lookUp(domain: string): Promise<Credentials | undefined> {
    const config = await this.load();
    const keys = keysFor(domain);
    for (const key of keys) {
      const entry = config?.auths?.[key];
      if (!entry) continue;
      let username = entry.username ?? '';
      let password = entry.password ?? '';
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) {
          username = decoded.slice(0, colon);
          password = decoded.slice(colon + 1);
        }
      }
      if (entry.identitytoken) return { username, password, identityToken: entry.identitytoken };
      if (username || password) return { username, password };
    }
    const helper = keys.map((k) => config?.credHelpers?.[k]).find(Boolean) ?? config?.credsStore;
    if (helper) {
      const fromHelper = await runHelper(helper, keys[0] as string);
      if (fromHelper) return fromHelper;
    }
    return this.extra.get(domain);
  }
}

function runHelper(helper: string, serverUrl: string): Promise<Credentials | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ['get'], { timeout: 30_000 }, (err, stdout) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new UserError(
              `docker config names credential helper "${helper}" but docker-credential-${helper} is not on PATH: install it or remove it from config.json`,
            ),
          );
          return;
        }
        // A helper that knows nothing of this server exits non-zero: no credentials.
        resolve(undefined);
        return;
      }
      try {
        const parsed = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!parsed.Secret) resolve(undefined);
        else if (parsed.Username === '<token>')
          resolve({ username: '', password: '', identityToken: parsed.Secret });
        else resolve({ username: parsed.Username ?? '', password: parsed.Secret });
      } catch {
        resolve(undefined);
      }
    });
    child.stdin?.end(serverUrl);
  });
}
