import { UserError } from '../../util/errors.js';
import type { Loc } from '../yaml-values.js';

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;

/**
 * Compose interpolation against a fixed environment (Forklift passes an empty one plus
 * COMPOSE_PROJECT_NAME). Supports `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`,
 * `${VAR+x}`, `${VAR:?msg}`, `${VAR?msg}`, `$$`, with nested substitutions inside the `x` parts.
 * A `$` followed by anything else stays literal, as in compose-go.
 */
export function interpolate(text: string, env: ReadonlyMap<string, string>, loc: Loc): string {
  if (!text.includes('$')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch !== '$') {
      out += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0) throw invalid(text, loc);
      out += substitute(text.slice(i + 2, end), text, env, loc);
      i = end + 1;
      continue;
    }
    const name = NAME.exec(text.slice(i + 1));
    if (name) {
      out += env.get(name[0]) ?? '';
      i += 1 + name[0].length;
      continue;
    }
    out += '$';
    i++;
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`, skipping nested `${...}`. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const ch = text[i];
    if (ch === '$' && text[i + 1] === '$') {
      i++;
    } else if (ch === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (ch === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function invalid(text: string, loc: Loc): UserError {
  return new UserError(
    `invalid interpolation format in ${JSON.stringify(text)}; write \${NAME}, \${NAME:-default} or $$ for a literal $`,
    loc,
  );
}

function substitute(body: string, whole: string, env: ReadonlyMap<string, string>, loc: Loc): string {
  const name = NAME.exec(body)?.[0];
  if (!name) throw invalid(whole, loc);
  const rest = body.slice(name.length);
  const value = env.get(name);
  if (rest === '') return value ?? '';
  const m = /^(:?)([-+?])/.exec(rest);
  if (!m) throw invalid(whole, loc);
  const colon = m[1] === ':';
  const op = m[2];
  const arg = rest.slice(m[0].length);
  // With ':' an empty value counts as unset.
  const isSet = value !== undefined && (!colon || value !== '');
  switch (op) {
    case '-':
      return isSet ? (value as string) : interpolate(arg, env, loc);
    case '+':
      return isSet ? interpolate(arg, env, loc) : '';
    default: {
      if (isSet) return value as string;
      const message = interpolate(arg, env, loc);
      throw new UserError(
        `required variable ${name} is missing a value${message ? `: ${message}` : ''}; ` +
          'Forklift interpolates with an empty environment, so give the variable a default (${' +
          `${name}:-value}) or write the value itself`,
        loc,
      );
    }
  }
}
