/**
 * Glob patterns as Forklift's import modifiers use them (doublestar): `*` and `?` stay within a
 * path element, `**` spans any number of elements, `[...]` and `{a,b}` as in shells.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  let i = 0;
  let braces = 0;
  while (i < pattern.length) {
    const ch = pattern[i] as string;
    if (ch === '*' && pattern[i + 1] === '*') {
      const atStart = i === 0 || pattern[i - 1] === '/';
      const atEnd = i + 2 === pattern.length || pattern[i + 2] === '/';
      if (atStart && atEnd) {
        if (i + 2 === pattern.length) {
          // `a/**` also matches `a` itself.
          if (re.endsWith('/')) re = `${re.slice(0, -1)}(?:/.*)?`;
          else re += '.*';
          i += 2;
        } else {
          re += '(?:[^/]*/)*';
          i += 3;
        }
        continue;
      }
      re += '[^/]*';
      i += 2;
      continue;
    }
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end + 1;
        continue;
      }
    } else if (ch === '{') {
      braces++;
      re += '(?:';
    } else if (ch === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (ch === ',' && braces > 0) re += '|';
    else if (ch === '\\' && i + 1 < pattern.length) {
      re += escape(pattern[i + 1] as string);
      i += 2;
      continue;
    } else re += escape(ch);
    i++;
  }
  return new RegExp(`^${re}$`);
}

function escape(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True when `path` or one of the folders above it matches `pattern` (the path is `/`-joined). */
export function matchesWithChildren(pattern: RegExp, path: string): boolean {
  if (pattern.test(path)) return true;
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    if (pattern.test(path.slice(0, i))) return true;
  }
  return false;
}
