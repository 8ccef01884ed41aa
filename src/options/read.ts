import { UserError } from '../util/errors.js';
import { definition, type OptionName, type OptionValues } from './definitions.js';

/** Each option's occurrences as text: a flag's values on the command line, an input's lines. */
export type RawValues = Partial<Record<OptionName, string[]>>;

/**
 * Turns raw text into values for `names`, applying the table's defaults. A bad value is a
 * `UserError` with code `invalid-input` naming the option, for the front end to word.
 */
export function readValues(names: readonly OptionName[], raws: RawValues): OptionValues {
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const def = definition(name);
    const given = raws[name]?.length ? raws[name] : def.default !== undefined ? [def.default] : undefined;
    if (!given) continue;
    try {
      values[name] = def.kind.parse(given);
    } catch (err) {
      if (err instanceof UserError && err.code === 'invalid-input' && !err.option)
        throw err.with({ option: name });
      throw err;
    }
  }
  return values as OptionValues;
}

/**
 * A value the table gives a default, so the reader always set it; undefined means the option was
 * not among those read, a programming error.
 */
export function defaulted<T>(value: T | undefined, name: OptionName): T {
  if (value === undefined) throw new Error(`option ${name} was not read (it has a default)`);
  return value;
}
