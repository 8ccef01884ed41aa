import type { Platform } from '../oci/documents.js';
import { parsePlatform } from '../oci/platform.js';
import { parseMirrors } from '../registry/mirrors.js';
import { UserError } from '../util/errors.js';

/**
 * How one option's text becomes a value, the same for a flag's occurrences on the command line
 * and an action input's lines. `parse` gets every occurrence (at least one) and throws
 * `invalid(...)` for a bad one; the reader adds which option it was.
 */
export interface ValueKind<T> {
  /** What help shows after the flag (`DIR`, `N`); none for a switch. */
  readonly metavar?: string;
  /** A switch: present on the command line means true; `true`/`false` as an action input. */
  readonly flag?: boolean;
  /** Repeatable on the command line; one per line (or comma-separated) as an action input. */
  readonly multiple?: boolean;
  /** The values it allows, for help and docs. */
  readonly allowed?: readonly string[];
  parse(raws: string[]): T;
}

/** A bad value: the reader adds the option's name, each front end words it. */
export function invalid(message: string): UserError {
  return new UserError(message, { code: 'invalid-input' });
}

function single(raws: string[]): string {
  if (raws.length > 1) throw invalid(`given ${raws.length} times (${raws.join(', ')}); it takes one value`);
  return raws[0] as string;
}

export function text(metavar: string, pattern?: { test: RegExp; rule: string }): ValueKind<string> {
  return {
    metavar,
    parse(raws) {
      const value = single(raws);
      if (pattern && !pattern.test.test(value))
        throw invalid(`must be ${pattern.rule}, got ${JSON.stringify(value)}`);
      return value;
    },
  };
}

export function list(metavar: string): ValueKind<string[]> {
  return { metavar, multiple: true, parse: (raws) => raws };
}

export const flag: ValueKind<boolean> = {
  flag: true,
  parse(raws) {
    const value = raws[raws.length - 1] as string;
    if (/^(true|True|TRUE)$/.test(value)) return true;
    if (/^(false|False|FALSE)$/.test(value)) return false;
    throw invalid(`must be true or false, got ${JSON.stringify(value)}`);
  },
};

export function choice<const T extends string>(
  allowed: readonly T[],
  metavar = allowed.join('|'),
): ValueKind<T> {
  return {
    metavar,
    allowed,
    parse(raws) {
      const value = single(raws);
      if (!(allowed as readonly string[]).includes(value))
        throw invalid(`must be ${orList(allowed)}, got ${JSON.stringify(value)}`);
      return value as T;
    },
  };
}

export function integer(min: number, max: number): ValueKind<number> {
  return {
    metavar: 'N',
    parse(raws) {
      const value = single(raws);
      if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
        throw invalid(`must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return Number(value);
    },
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `30s`, `10m`, `1h`, or a number of seconds; in milliseconds. */
export const duration: ValueKind<number> = {
  metavar: 'TIME',
  parse(raws) {
    const value = single(raws);
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
    if (!m) throw invalid(`must be a duration such as 30s, 10m or 1h, got ${JSON.stringify(value)}`);
    return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? 's'] as number));
  },
};

/** `KEY=VALUE` occurrences into a map. */
export function keyValues(metavar: string): ValueKind<Record<string, string>> {
  return {
    metavar,
    multiple: true,
    parse(raws) {
      const out: Record<string, string> = {};
      for (const v of raws) {
        const eq = v.indexOf('=');
        if (eq <= 0 || eq === v.length - 1) throw invalid(`expects ${metavar}, got ${JSON.stringify(v)}`);
        out[v.slice(0, eq).trim()] = v.slice(eq + 1).trim();
      }
      return out;
    },
  };
}

export const mirrors: ValueKind<Record<string, string[]>> = {
  metavar: 'REGISTRY=MIRROR',
  multiple: true,
  parse: (raws) => parseMirrors(raws, invalid),
};

export const platform: ValueKind<Platform> = {
  metavar: 'OS/ARCH[/VARIANT]',
  parse(raws) {
    const all = raws.flatMap((r) => r.split(/[\s,]+/)).filter(Boolean);
    if (all.length > 1)
      throw invalid(
        `one platform per run, got ${all.join(', ')}: run once per platform (a matrix in a workflow)`,
      );
    return parsePlatform(all[0] ?? '');
  },
};

export function orList(values: readonly string[]): string {
  return values.length < 2
    ? values.join('')
    : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}
