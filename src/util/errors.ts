/**
 * What went wrong, as a word each front end can turn into advice in its own terms (a CLI flag,
 * an action input). Lower layers set a code and the facts; they never name a flag or an input.
 */
export type ErrorCode =
  /** The registry's name did not resolve (DNS). */
  | 'dns'
  /** No answer from the registry: refused, reset, timed out. */
  | 'unreachable'
  /** TLS failed because the certificate is not trusted. */
  | 'untrusted-certificate'
  /** A TLS request was answered in plain HTTP: the registry speaks only HTTP. */
  | 'plain-http'
  /** HTTP 401/403 after every credential we have. */
  | 'denied'
  /** HTTP 404 for a tag, manifest or blob. */
  | 'not-found'
  /** HTTP 429 after the retries. */
  | 'rate-limited'
  /** The registry kept failing (5xx, cut or stalled bodies) after the retries. */
  | 'registry-failing'
  /** The image has no manifest for the requested platform. */
  | 'no-platform'
  /** Bytes that do not match their digest or size. */
  | 'corrupt'
  /** A document that is not what it claims: bad JSON, a missing field, a wrong media type. */
  | 'malformed'
  /** A document or answer larger than its cap. */
  | 'too-large'
  /** Something the tool does not support (schema 1, nested indexes, a digest algorithm). */
  | 'unsupported'
  /** An invalid value given by the user (a platform, a reference, a number). */
  | 'invalid-input'
  /** Another process holds the layout. */
  | 'locked'
  /** A layout that is missing or incomplete. */
  | 'layout'
  /** A file-system failure: no space, read-only, permission. */
  | 'file-system'
  /** A file we wrote earlier (an archive, a layout) whose bytes no longer match their digest. */
  | 'damaged'
  /** A mistake in a pallet's files. */
  | 'pallet'
  /** A program this step runs (an engine, tar) is not installed. */
  | 'missing-tool'
  /** The step needs root and runs as another user. */
  | 'needs-root'
  /** A private container engine failed to start, load or stop. */
  | 'engine';

/** The facts an error is about, for messages, annotations and advice. */
export interface ErrorFacts {
  /** File the problem is in, when there is one (path as the user would recognise it). */
  file?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
  /** The image reference the problem concerns (as the user wrote it). */
  image?: string;
  /** The registry domain (docker.io, ghcr.io, 127.0.0.1:5000). */
  registry?: string;
  /** The host that was asked (a registry, a mirror, a token service), when it is not `registry`. */
  host?: string;
  /** A blob or manifest digest. */
  blob?: string;
  /** The option or input that holds a bad value, by its CLI name without dashes (`platform`). */
  option?: string;
}

/**
 * A mistake the user can fix, or a failure outside our control (bad input, missing file, unknown
 * image, refused credentials, a failing registry). The CLI prints `error: <message>` and exits 1
 * without a stack trace; the action turns it into an annotation pointing at `file`/`line` when
 * they are known. `code` lets each front end add advice in its own words.
 */
export class UserError extends Error {
  readonly code?: ErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly image?: string;
  readonly registry?: string;
  readonly host?: string;
  readonly blob?: string;
  readonly option?: string;

  constructor(message: string, where?: ErrorFacts & { code?: ErrorCode; cause?: unknown }) {
    super(message, where?.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'UserError';
    this.code = where?.code;
    this.file = where?.file;
    this.line = where?.line;
    this.image = where?.image;
    this.registry = where?.registry;
    this.host = where?.host;
    this.blob = where?.blob;
    this.option = where?.option;
  }

  /** The facts and code, to build a related error. */
  get facts(): ErrorFacts & { code?: ErrorCode } {
    const { code, file, line, image, registry, host, blob, option } = this;
    return { code, file, line, image, registry, host, blob, option };
  }

  /** The same error, also naming the image it concerns. */
  forImage(image: string): UserError {
    if (this.image) return this;
    return this.with({ image });
  }

  /** The same error (message and cause) with some facts added or replaced. */
  with(facts: ErrorFacts & { code?: ErrorCode }, message = this.message): UserError {
    return new UserError(message, { ...this.facts, ...facts, cause: this.cause });
  }

  /** `file:line: message`, the form editors and Actions annotations understand. */
  get located(): string {
    if (!this.file) return this.message;
    return `${this.file}${this.line ? `:${this.line}` : ''}: ${this.message}`;
  }
}

/** The CLI usage mistake (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof UserError) return err.located;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * How a front end names its settings, so advice reads in its terms: the CLI says `--ca-file`,
 * the action says `input ca-files`. Keys are the CLI option names without dashes.
 */
export type SettingNamer = (option: string) => string;

/**
 * Advice for an error's code, in the front end's words; empty when the message already says
 * what to do. Front ends append it to the message.
 */
export function adviceFor(err: UserError, setting: SettingNamer): string {
  const host = err.host ?? err.registry ?? 'the registry';
  switch (err.code) {
    case 'dns':
      return `check the registry name and the runner's network or DNS`;
    case 'unreachable':
      return `check that ${host} is up and reachable from here; a mirror can stand in (${setting('mirror')})`;
    case 'untrusted-certificate':
      return `trust its CA with ${setting('ca-file')}, or skip verification for it with ${setting('insecure-registry')} ${host}`;
    case 'plain-http':
      return `it speaks plain HTTP: allow that with ${setting('insecure-registry')} ${host}`;
    case 'denied':
      return `check the name, or log in to ${err.registry ?? host} (docker login; docker/login-action in a workflow)`;
    case 'not-found':
      return 'check the image name and tag';
    case 'rate-limited':
      return `log in to raise the limit (anonymous pulls have the lowest), or use a mirror (${setting('mirror')})`;
    case 'registry-failing':
      return 'try again later; if it persists, the registry or a proxy in between is at fault';
    case 'no-platform':
      return `choose another platform with ${setting('platform')}, or an image built for the one you need`;
    case 'corrupt':
      return 'nothing was stored: try again, and if it persists the registry or a proxy is damaging it';
    case 'damaged':
      return 'it was damaged after it was written (disk, transfer or edit): write or copy it again';
    case 'locked':
      return `wait for it, or raise ${setting('lock-timeout')}`;
    case 'layout':
      return `run the pull again to complete the layout (${setting('layout')})`;
    case 'invalid-input':
      return err.option ? `fix ${setting(err.option)}` : '';
    case 'file-system':
      return err.option ? `the path is set with ${setting(err.option)}` : '';
    case 'needs-root':
      return 'run it as root (sudo; GitHub-hosted runners allow it without a password)';
    case 'engine':
      return 'the engine needs a kernel with overlayfs and a temporary folder that is not itself on overlayfs (TMPDIR)';
    default:
      return '';
  }
}

/** The message with the advice for its code, as a front end prints it. */
export function advisedMessage(err: unknown, setting: SettingNamer): string {
  const message = errorMessage(err);
  if (!(err instanceof UserError)) return message;
  const advice = adviceFor(err, setting);
  return advice ? `${message}: ${advice}` : message;
}
