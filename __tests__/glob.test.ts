import { describe, expect, test } from '@jest/globals';
import { globToRegExp } from '../src/pallet/glob.js';

// doublestar v4 semantics (what Forklift's import modifiers use): `*`, `?` and classes stay within
// one path element; `**` as a whole element spans any number of elements, including none.
const cases: [pattern: string, path: string, matches: boolean][] = [
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[!c]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['*x', 'xxx', true],
  ['a/**', 'a', true],
  ['a/**', 'a/b', true],
  ['a/**', 'a/b/c', true],
  ['**/c', 'c', true],
  ['**/c', 'b/c', true],
  ['**/c', 'a/b/c', true],
  ['**/c', 'a/b', false],
  ['**/c', 'abcd', false],
  ['**/c', 'a/abc', false],
  ['a/**/b', 'a/b', true],
  ['a/**/c', 'a/b/c', true],
  ['a/**/d', 'a/b/c/d', true],
  ['a/**/d', 'a/b/c/e', false],
  ['ab{c,d}', 'abc', true],
  ['ab{c,d}', 'abe', false],
  ['ab{c,d,*}', 'abcde', true],
  ['{a,b}/**/*.yml', 'b/x/y/compose.yml', true],
  ['{a,b}/**/*.yml', 'c/x/compose.yml', false],
  ['deployments/*.deploy.yml', 'deployments/apps/x.deploy.yml', false],
  ['deployments/**/*.deploy.yml', 'deployments/apps/x.deploy.yml', true],
];

describe('globToRegExp (doublestar semantics)', () => {
  test.each(cases)('%s against %s: %s', (pattern, path, matches) => {
    expect(globToRegExp(pattern).test(path)).toBe(matches);
  });
});
