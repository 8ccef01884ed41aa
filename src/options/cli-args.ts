import { parseArgs } from 'node:util';
import { UsageError } from '../util/errors.js';
import { closest } from '../util/suggest.js';
import {
  COMMANDS,
  commandOptions,
  definition,
  optionNames,
  type Command,
  type OptionName,
  type OptionValues,
} from './definitions.js';
import { readValues, type RawValues } from './read.js';

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

/**
 * Parses a command's arguments against the option table. Unknown options (with the one probably
 * meant), missing values, stray arguments and an option given twice that takes one value are
 * usage errors; values are checked as the action checks its inputs.
 */
export function parseCommandLine(command: Command, args: string[]): OptionValues {
  const names = commandOptions(command);
  const { tokens } = parseArgs({
    args,
    options: Object.fromEntries(
      names.map((name) => {
        const def = definition(name);
        const type = def.kind.flag ? ('boolean' as const) : ('string' as const);
        return [name, { type, multiple: true, ...(def.short ? { short: def.short } : {}) }];
      }),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const raws: RawValues = {};
  for (const token of tokens ?? []) {
    const raw = tokenValue(command, names, token);
    if (raw) (raws[raw.name] ??= []).push(raw.value);
  }
  if (raws.help) return { help: true };
  const values = readValues(names, raws);
  for (const name of names) {
    if (definition(name).required?.includes(command) && values[name] === undefined) {
      throw new UsageError(
        `--${name} is required${name === 'platform' ? ', e.g. --platform linux/arm64' : ''}`,
      );
    }
  }
  return values;
}

function tokenValue(
  command: Command,
  names: readonly OptionName[],
  token: Token,
): { name: OptionName; value: string } | undefined {
  if (token.kind === 'positional') throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}`);
  if (token.kind !== 'option') return undefined;
  const name = token.name as OptionName;
  if (!names.includes(name)) throw new UsageError(unknownOption(command, names, token.rawName));
  const def = definition(name);
  if (def.kind.flag) {
    if (token.inlineValue) throw new UsageError(`--${name} takes no value`);
    return { name, value: 'true' };
  }
  const metavar = def.kind.metavar ?? 'VALUE';
  if (token.value === undefined) throw new UsageError(`--${name} needs a value (${metavar})`);
  if (!token.inlineValue && token.value.startsWith('-') && token.value !== '-') {
    throw new UsageError(
      `--${name} needs a value (${metavar}), got the option ${token.value}; write --${name}=${token.value} if that is the value`,
    );
  }
  return { name, value: token.value };
}

/** `unknown option --platfrom (did you mean --platform?)`, or which command takes it. */
function unknownOption(command: Command, names: readonly OptionName[], raw: string): string {
  const message = `unknown option ${raw}`;
  if (!raw.startsWith('--')) return message;
  const word = raw.slice(2).replace(/=.*$/, '');
  const meant = closest(word, names);
  if (meant) return `${message} (did you mean --${meant}?)`;
  const elsewhere = COMMANDS.filter((c) => c !== command && commandOptions(c).includes(word as OptionName));
  if (elsewhere.length) return `${message}: 'cache-images ${elsewhere[0]}' takes it, '${command}' does not`;
  const input = optionNames().includes(word as OptionName) && definition(word as OptionName).input;
  if (input) return `${message}: only the action has it (input ${input.name})`;
  return message;
}
