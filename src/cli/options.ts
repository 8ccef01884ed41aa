import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseMirrors } from '../registry/mirrors.js';
import { UsageError } from '../util/errors.js';
import { closest } from '../util/suggest.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses the arguments of a command that declares its own options (the table-driven commands use
 * src/options); unknown options and stray arguments are usage errors (exit 2).
 */
export function parseCommand<T extends Options>(args: string[], options: T) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return values;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const unknown = /^Unknown option '(--?[^']+)'/.exec((err as Error).message);
    if (!unknown) throw new UsageError((err as Error).message);
    const meant = closest((unknown[1] as string).replace(/^--/, ''), [...Object.keys(options), 'help']);
    throw new UsageError(`unknown option ${unknown[1]}${meant ? ` (did you mean --${meant}?)` : ''}`);
  }
}

/** `--repo PATH=DIR` style options into a map. */
export function keyValues(values: string[] | undefined, option: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1)
      throw new UsageError(`--${option} expects KEY=VALUE, got ${JSON.stringify(v)}`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export function positiveInteger(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`--${option} expects a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function oneOf<T extends string>(
  value: string | undefined,
  option: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${option} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Options every command that talks to registries takes. */
export const registryOptionSpecs = {
  'insecure-registry': { type: 'string', multiple: true },
  mirror: { type: 'string', multiple: true },
  'ca-file': { type: 'string', multiple: true },
} as const;

export const registryOptionsHelp = `  --insecure-registry HOST  allow plain HTTP / unverified TLS for HOST (repeatable; loopback always is)
  --mirror REGISTRY=MIRROR  try MIRROR (host[:port]) first for REGISTRY's images, e.g. docker.io=mirror:5000
  --ca-file FILE            also trust the PEM CA certificates in FILE (repeatable)
`;

export function registryOptions(v: {
  'insecure-registry'?: string[];
  mirror?: string[];
  'ca-file'?: string[];
}) {
  return {
    insecureRegistries: v['insecure-registry'] ?? [],
    mirrors: parseMirrors(v.mirror ?? [], (m) => new UsageError(`--mirror ${m}`)),
    caFiles: v['ca-file'] ?? [],
  };
}
