import { parseArgs, type ParseArgsConfig } from 'node:util';
import { choice, integer, keyValues as keyValuesKind } from '../options/kinds.js';
import { UsageError, UserError } from '../util/errors.js';
import { closest } from '../util/suggest.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses the arguments of a command that declares its own options (the commands in the option
 * table use src/options); unknown options and stray arguments are usage errors (exit 2).
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

/** The table's rules for a value, naming the option when it is refused (a usage error in main). */
function checked<T>(option: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw err instanceof UserError && !err.option ? err.with({ option }) : err;
  }
}

/** `--repo PATH=DIR` style options into a map. */
export function keyValues(values: string[] | undefined, option: string): Record<string, string> {
  return values?.length ? checked(option, () => keyValuesKind('KEY=VALUE').parse(values)) : {};
}

export function positiveInteger(value: string | undefined, option: string, fallback: number): number {
  return value === undefined
    ? fallback
    : checked(option, () => integer(1, Number.MAX_SAFE_INTEGER).parse([value]));
}

export function oneOf<T extends string>(
  value: string | undefined,
  option: string,
  allowed: readonly T[],
  fallback: T,
): T {
  return value === undefined ? fallback : checked(option, () => choice(allowed).parse([value]));
}
