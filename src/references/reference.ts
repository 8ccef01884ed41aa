import { UserError } from '../util/errors.js';

/**
 * An image reference parsed as distribution/reference (Docker's grammar) parses it.
 * `original` is kept verbatim for naming (RepoTags, annotations, messages); the normalised
 * parts are used for requests.
 */
export interface ImageReference {
  /** The string as the user or the pallet wrote it. */
  original: string;
  /** Registry domain as written or implied: `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path within the registry: `library/alpine`, `planktoscope/segmenter`. */
  path: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const NAME_MAX = 255;

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX64_RE = /^[a-f0-9]{64}$/;

function invalid(
  text: string,
  why: string,
  code: 'invalid-input' | 'unsupported' = 'invalid-input',
): UserError {
  return new UserError(`invalid image reference ${JSON.stringify(text)}: ${why}`, { code, image: text });
}

/** Parses a reference; throws a UserError that says what is wrong with it. */
export function parseReference(text: string): ImageReference {
  const original = text;
  if (text.trim() !== text || text === '') throw invalid(text, 'empty or surrounded by spaces');
  if (HEX64_RE.test(text))
    throw invalid(text, 'a 64-character hexadecimal string is an image ID, not a name');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw invalid(text, `malformed digest ${JSON.stringify(digest)}`);
    if (!digest.startsWith('sha256:'))
      throw invalid(
        text,
        `digest algorithm ${digest.split(':')[0]} is not supported (only sha256)`,
        'unsupported',
      );
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw invalid(text, 'a sha256 digest has 64 lowercase hexadecimal characters');
    }
  }

  // A colon after the last slash separates the tag; one before it belongs to a port.
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw invalid(text, `malformed tag ${JSON.stringify(tag)}`);
  }

  if (rest.length > NAME_MAX) throw invalid(text, `the name is longer than ${NAME_MAX} characters`);
  let domain: string;
  let path: string;
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  // The first element is a registry when it looks like a host (has '.' or ':', is localhost)
  // or has capitals (a repository path never does).
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = rest;
  } else {
    domain = first;
    path = rest.slice(slash + 1);
    if (!DOMAIN_RE.test(domain)) throw invalid(text, `malformed registry host ${JSON.stringify(domain)}`);
    const port = /:(\d+)$/.exec(domain)?.[1];
    if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535))
      throw invalid(text, `port ${port} of registry ${domain} is not between 1 and 65535`);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path !== path.toLowerCase()) throw invalid(text, 'repository names must be lowercase');
  if (!PATH_RE.test(path)) throw invalid(text, `malformed repository name ${JSON.stringify(path)}`);
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;

  return { original, domain, path, tag, digest };
}

/** `domain/path`, fully qualified: `docker.io/library/alpine`. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Fully qualified reference: `docker.io/library/alpine:3.20@sha256:...`. */
export function normalizedReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The short form Docker prints and `docker save` writes: `alpine:3.20`, `grafana/grafana:11`. */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  const m = /^library\/([^/]+)$/.exec(ref.path);
  return m ? (m[1] as string) : ref.path;
}

/** `name:tag` as Docker's classic store names a loaded image, or undefined for digest-only references. */
export function familiarTag(ref: ImageReference): string | undefined {
  return ref.tag ? `${familiarName(ref)}:${ref.tag}` : undefined;
}

/** The host that serves a domain's API: Docker Hub's API lives at registry-1.docker.io. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? 'registry-1.docker.io' : domain;
}

/** True when a reference names neither tag nor digest (Forklift refuses to guess `latest`). */
export function isUnpinned(ref: ImageReference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}
