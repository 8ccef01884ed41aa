import { parseDocument } from 'yaml';
import { COMMANDS, commandOptions, definition, helpOf, optionNames, type OptionName } from './definitions.js';
import { details, synopsis } from './help.js';
import { OUTPUTS } from './outputs.js';

export interface ActionInput {
  name: string;
  option: OptionName;
  default: string;
  description: string;
}

/** With a full stop, as action.yml descriptions read (the case is kept: values like `keep` start some). */
function sentence(text: string): string {
  return `${text}${/[.?!]$/.test(text) ? '' : '.'}`;
}

/** The action's inputs, in table order, with action.yml's default and description. */
export function actionInputs(): ActionInput[] {
  return optionNames().flatMap((option) => {
    const def = definition(option);
    if (!def.input) return [];
    const parts = [sentence(helpOf(option, 'pull'))];
    if (def.kind.multiple) parts.push('One per line.');
    const defaultText =
      def.input.defaultText ?? (def.input.default === undefined ? def.defaultText : undefined);
    if (defaultText) parts.push(`Default: ${defaultText.replace(/`/g, '')}.`);
    return [
      {
        name: def.input.name,
        option,
        default: def.input.default ?? def.default ?? '',
        description: parts.join(' '),
      },
    ];
  });
}

/** CLI option name -> action input name, for advice in the action's words. */
export function inputOf(option: string): string | undefined {
  return optionNames().includes(option as OptionName)
    ? definition(option as OptionName).input?.name
    : undefined;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');
const code = (text: string) => (text ? `\`${text}\`` : '');

/** README: the action's inputs table. */
export function inputsTable(): string {
  const rows = actionInputs().map((input) => {
    const def = definition(input.option);
    const shown = input.default ? code(input.default) : (def.input?.defaultText ?? def.defaultText ?? '');
    return `| \`${input.name}\` | ${cell(shown)} | ${cell(helpOf(input.option, 'pull'))} |`;
  });
  return ['| input | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** README: the action's outputs table. */
export function outputsTable(): string {
  const rows = Object.entries(OUTPUTS).map(([name, text]) => `| \`${name}\` | ${cell(text)} |`);
  return ['| output | meaning |', '| --- | --- |', ...rows].join('\n');
}

/** README: every command's synopsis. */
export function cliSynopsis(): string {
  return ['```', ...COMMANDS.flatMap((c) => synopsis(c)), '```'].join('\n');
}

/** README: every CLI option, the commands taking it and its action input. */
export function cliOptionsTable(): string {
  const rows = optionNames().flatMap((name) => {
    const def = definition(name);
    const commands =
      def.commands === 'all' ? 'all' : COMMANDS.filter((c) => commandOptions(c).includes(name));
    if (commands !== 'all' && commands.length === 0) return [];
    const flags = `${def.short ? `\`-${def.short}\`, ` : ''}\`--${name}${def.kind.metavar && !def.kind.flag ? ` ${def.kind.metavar}` : ''}\``;
    const extra = details(name);
    const meaning = `${helpOf(name)}${extra.length ? ` (${extra.join('; ')})` : ''}`;
    const where = commands === 'all' ? 'all' : commands.join(', ');
    return [`| ${cell(flags)} | ${where} | ${cell(meaning)} | ${def.input ? `\`${def.input.name}\`` : ''} |`];
  });
  return ['| option | commands | meaning | action input |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The README's generated sections, by marker name. */
export const README_SECTIONS: Record<string, () => string> = {
  'cli-synopsis': cliSynopsis,
  'cli-options': cliOptionsTable,
  'action-inputs': inputsTable,
  'action-outputs': outputsTable,
};

/** Replaces each `<!-- generated:NAME -->...<!-- /generated:NAME -->` block with its fresh text. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(README_SECTIONS)) {
    const begin = `<!-- generated:${name} (npm run docs) -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`README.md lacks the markers of ${name}`);
    out = `${out.slice(0, from + begin.length)}\n${render()}\n${out.slice(to)}`;
  }
  return out;
}

/** action.yml with its inputs and outputs replaced by the table's; the rest is kept as written. */
export function renderActionYml(text: string): string {
  const doc = parseDocument(text);
  doc.set(
    'inputs',
    Object.fromEntries(
      actionInputs().map((i) => [
        i.name,
        { description: i.description, required: false, default: i.default },
      ]),
    ),
  );
  doc.set(
    'outputs',
    Object.fromEntries(Object.entries(OUTPUTS).map(([name, d]) => [name, { description: sentence(d) }])),
  );
  return doc.toString({ lineWidth: 0, singleQuote: true });
}
