import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { interpolate } from '../../src/pallet/compose/interpolate.js';
import { globToRegExp, matchesWithChildren } from '../../src/pallet/glob.js';
import { listPalletImages } from '../../src/pallet/index.js';
import { forkliftVersionName } from '../../src/pallet/version-lock.js';
import { FIXTURES } from './helpers.js';

const env = new Map([['COMPOSE_PROJECT_NAME', 'apps_grafana']]);
const loc = { file: 'compose.yml', line: 1 };

describe('interpolation with an empty environment plus COMPOSE_PROJECT_NAME', () => {
  test.each([
    ['${X}', ''],
    ['$X-y', '-y'],
    ['${X:-d}', 'd'],
    ['${X-d}', 'd'],
    ['${X:+p}', ''],
    ['${X+p}', ''],
    ['${COMPOSE_PROJECT_NAME}', 'apps_grafana'],
    ['$COMPOSE_PROJECT_NAME', 'apps_grafana'],
    ['${COMPOSE_PROJECT_NAME:+p}', 'p'],
    ['${COMPOSE_PROJECT_NAME+p}', 'p'],
    ['${COMPOSE_PROJECT_NAME:-d}', 'apps_grafana'],
    ['${COMPOSE_PROJECT_NAME:?m}', 'apps_grafana'],
    ['$$X $$', '$X $'],
    ['a$ b $1', 'a$ b $1'],
    ['${X:-${Y:-${COMPOSE_PROJECT_NAME}}}', 'apps_grafana'],
    ['${X:-a}}', 'a}'],
  ])('%s -> %s', (input, output) => {
    expect(interpolate(input, env, loc)).toBe(output);
  });

  test.each(['${X:?}', '${X?m}', '${}', '${X', '${1}', '${X/y}'])('%s is an error', (input) => {
    expect(() => interpolate(input, env, loc)).toThrow();
  });
});

describe('import globs', () => {
  test.each([
    ['packages/**/*.yml', 'packages/a/b/c.yml', true],
    ['packages/**/*.yml', 'packages/c.yml', true],
    ['packages/*.yml', 'packages/a/c.yml', false],
    ['deployments/base/*.deploy.yml', 'deployments/base/x.deploy.yml', true],
    ['a/{b,c}/d', 'a/c/d', true],
    ['a/[bc]?', 'a/cz', true],
    ['/x/**', '/x', true],
  ])('%s ~ %s = %s', (pattern, path, matched) => {
    expect(globToRegExp(pattern).test(path)).toBe(matched);
  });

  test('children of a matched folder match', () => {
    expect(matchesWithChildren(globToRegExp('packages/web'), 'packages/web/compose.yml')).toBe(true);
    expect(matchesWithChildren(globToRegExp('/deployments/base'), '/deployments/base/x.yml')).toBe(true);
    expect(matchesWithChildren(globToRegExp('packages/web'), 'packages/webby/compose.yml')).toBe(false);
  });
});

describe("Forklift's version names for cache folders", () => {
  const commit = '69e3c8286fb17da877431e593553588c6786e408';
  const where = { file: 'lock.yml', line: 1 };
  test.each([
    ['version', 'v2024.0.0', 'v2024.0.0'],
    ['pseudoversion', '', 'v0.0.0-20240425042812-69e3c8286fb1'],
    ['pseudoversion', 'v2024.0.0-alpha.1', 'v2024.0.0-alpha.1.0.20240425042812-69e3c8286fb1'],
    ['pseudoversion', 'v1.2.3', 'v1.2.4-0.20240425042812-69e3c8286fb1'],
  ])('%s %s', (type, tag, expected) => {
    expect(forkliftVersionName(type, tag, '20240425042812', commit, where)).toBe(expected);
  });
});

describe('examples/pallet-minimal', () => {
  test('lists the images its README promises', async () => {
    const dir = join(FIXTURES, '..', '..', '..', 'examples', 'pallet-minimal');
    expect((await listPalletImages(dir)).map((i) => i.reference)).toEqual([
      'docker.io/grafana/grafana:11.3.0',
      'docker.io/library/alpine:3.20',
      'docker.io/library/nginx:1.27-alpine',
    ]);
    expect((await listPalletImages(dir, { includeDisabled: true })).map((i) => i.reference)).toContain(
      'docker.io/library/busybox:1.36',
    );
  });
});
