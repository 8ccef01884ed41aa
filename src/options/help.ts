import { commandOptions, definition, helpOf, type Command, type OptionName } from './definitions.js';

const WIDTH = 100;
const COLUMN = 30;

function flagText(name: OptionName): string {
  const def = definition(name);
  const metavar = def.kind.metavar && !def.kind.flag ? ` ${def.kind.metavar}` : '';
  return `--${name}${metavar}`;
}

/** `[--image REF]...`, `--platform OS/ARCH[/VARIANT]`: an option as the synopsis shows it. */
function synopsisItem(command: Command, name: OptionName): string {
  const def = definition(name);
  const item = def.required?.includes(command) ? flagText(name) : `[${flagText(name)}]`;
  return def.kind.multiple ? `${item}...` : item;
}

/** Words filled into lines of `width`, continuation lines indented by `indent`. */
export function wrap(words: string[], first: string, indent: number, width = WIDTH): string[] {
  const lines: string[] = [];
  let line = first;
  for (const word of words) {
    if (line.trim() && line.length + 1 + word.length > width) {
      lines.push(line);
      line = ' '.repeat(indent) + word;
    } else {
      line = line.length && !line.endsWith(' ') ? `${line} ${word}` : `${line}${word}`;
    }
  }
  lines.push(line);
  return lines;
}

/** The options a command lists in its synopsis: its own, required first; the common ones last. */
function ownOptions(command: Command): OptionName[] {
  const own = commandOptions(command).filter((n) => definition(n).commands !== 'all');
  const required = own.filter((n) => definition(n).required?.includes(command));
  return [...required, ...own.filter((n) => !required.includes(n))];
}

/** `cache-images pull --platform ... [--pallet DIR] ...`, wrapped. */
export function synopsis(command: Command): string[] {
  const first = `cache-images ${command} `;
  const items = [...ownOptions(command).map((n) => synopsisItem(command, n)), '[-q|-v]'];
  return wrap(items, first, first.length);
}

/** What an option's help adds in parentheses: required, default, repeatable. */
export function details(name: OptionName, command?: Command): string[] {
  const def = definition(name);
  const out: string[] = [];
  if (command && def.required?.includes(command)) out.push('required');
  else if (def.default !== undefined && !def.kind.flag) out.push(`default ${def.default}`);
  else if (def.defaultText && !def.input?.defaultText) out.push(`default: ${def.defaultText}`);
  if (def.kind.multiple) out.push('repeatable');
  return out;
}

function optionLine(command: Command, name: OptionName): string[] {
  const def = definition(name);
  const left = `  ${def.short ? `-${def.short}, ` : ''}${flagText(name)}`;
  const extra = details(name, command);
  const help = `${helpOf(name, command)}${extra.length ? ` (${extra.join('; ')})` : ''}`;
  if (left.length < COLUMN) return wrap(help.split(' '), left.padEnd(COLUMN), COLUMN);
  return [left, ...wrap(help.split(' '), ' '.repeat(COLUMN), COLUMN)];
}

/** A command's --help: synopsis, what it does, every option from the table. */
export function commandHelp(command: Command, description: string): string {
  const [first, ...rest] = synopsis(command);
  const usage = [`Usage: ${first}`, ...rest.map((l) => `       ${l}`)];
  const options = ownOptions(command).flatMap((n) => optionLine(command, n));
  const common = commandOptions(command)
    .filter((n) => definition(n).commands === 'all')
    .flatMap((n) => optionLine(command, n));
  return `${usage.join('\n')}\n\n${description.trim()}\n\nOptions:\n${options.join('\n')}\n${common.join('\n')}\n`;
}
