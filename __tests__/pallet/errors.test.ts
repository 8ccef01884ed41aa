import { describe, expect, test } from '@jest/globals';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listPalletImages } from '../../src/pallet/index.js';
import { UserError } from '../../src/util/errors.js';
import { onePackagePallet, PALLET_YML, writeTree } from './helpers.js';

/** Lists a temporary pallet and returns the UserError it must fail with. */
async function failure(
  files: Record<string, string>,
  prepare?: (root: string) => Promise<void>,
): Promise<UserError> {
  const root = await writeTree(files);
  await prepare?.(root);
  const err = await listPalletImages(root, {
    kind: 'all',
    cacheDir: join(root, '.cache'),
    forkliftCacheDir: join(root, '.fk'),
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UserError)) throw new Error(`expected a UserError, got ${String(err)}`);
  expect(err.located.split('\n')).toHaveLength(1);
  expect(err.code).toBe('pallet');
  return err;
}

const simple = (compose: string) => onePackagePallet({ 'compose.yml': compose });

describe('errors name the file, the line, and what to do', () => {
  test('missing forklift-version', async () => {
    const err = await failure({ 'forklift-pallet.yml': 'pallet:\n  path: x\n' });
    expect(err.located).toMatch(
      /^forklift-pallet\.yml:1: forklift-version is missing; add "forklift-version: v0\.4\.0"/,
    );
  });

  test('too-old forklift-version', async () => {
    const err = await failure({ 'forklift-pallet.yml': 'pallet: {path: x}\nforklift-version: v0.3.1\n' });
    expect(err.located).toMatch(
      /^forklift-pallet\.yml:2: forklift-version v0\.3\.1 is older than v0\.4\.0.*upgrade/,
    );
  });

  test('not a pallet folder', async () => {
    const err = await failure({ 'README.md': 'x' });
    expect(err.message).toMatch(/has no forklift-pallet\.yml.*pass the pallet's root folder/);
  });

  test('unknown feature', async () => {
    const err = await failure(
      onePackagePallet(
        { 'compose.yml': 'services: {a: {image: "x:1"}}\n' },
        'deployment:\n  compose-files: [compose.yml]\nfeatures:\n  known: {}\n',
        'package: /packages/app\nfeatures: [known, nope]\n',
      ),
    );
    expect(err.located).toBe(
      'deployments/app.deploy.yml:2: package /packages/app has no feature nope; use one of: known',
    );
  });

  test('package folder without forklift-package.yml', async () => {
    const err = await failure({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/app.deploy.yml': 'disabled: false\npackage: /packages/empty\n',
      'packages/empty/compose.yml': 'services: {}\n',
    });
    expect(err.located).toMatch(
      /^deployments\/app\.deploy\.yml:2: package \/packages\/empty: folder packages\/empty has no forklift-package\.yml; fix the package path/,
    );
  });

  test('package folder that does not exist', async () => {
    const err = await failure({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/app.deploy.yml': 'package: /nowhere\n',
    });
    expect(err.located).toMatch(
      /^deployments\/app\.deploy\.yml:1: package \/nowhere: folder nowhere does not exist in the pallet/,
    );
  });

  test('no lock for a package path', async () => {
    const err = await failure({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/app.deploy.yml': 'package: github.com/example/pkgs/core/app\n',
    });
    expect(err.located).toMatch(
      /^deployments\/app\.deploy\.yml:1: no required repository provides package github\.com\/example\/pkgs\/core\/app: add requirements\/repositories\//,
    );
  });

  test('missing compose file', async () => {
    const err = await failure(onePackagePallet({}, 'deployment:\n  compose-files:\n    - compose.yml\n'));
    expect(err.located).toMatch(
      /^packages\/app\/forklift-package\.yml:3: Compose file packages\/app\/compose\.yml does not exist/,
    );
  });

  test('${VAR:?msg} and ${VAR?msg}', async () => {
    let err = await failure(simple('services:\n  a:\n    image: "x:${TAG:?set a tag}"\n'));
    expect(err.located).toMatch(
      /^packages\/app\/compose\.yml:3: required variable TAG is missing a value: set a tag; /,
    );
    err = await failure(simple('services:\n  a:\n    image: x:1\n    environment:\n      - A=${NEEDED?}\n'));
    expect(err.located).toMatch(
      /^packages\/app\/compose\.yml:5: required variable NEEDED is missing a value; /,
    );
  });

  test('malformed interpolation', async () => {
    const err = await failure(simple('services:\n  a:\n    image: "x:${TAG"\n'));
    expect(err.located).toMatch(/^packages\/app\/compose\.yml:3: invalid interpolation format/);
  });

  test('invalid YAML', async () => {
    const err = await failure(simple('services:\n  web:\n    image: [unclosed\n'));
    expect(err.file).toBe('packages/app/compose.yml');
    expect(err.line).toBeGreaterThanOrEqual(3);
    expect(err.message).toMatch(/^invalid YAML: .*; fix the syntax of this file$/);
  });

  test('invalid YAML in a deploy file', async () => {
    const err = await failure({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/app.deploy.yml': 'package: /a\n  bad: [\n',
    });
    expect(err.file).toBe('deployments/app.deploy.yml');
    expect(err.line).toBeDefined();
  });

  test('a package path escaping the pallet with ..', async () => {
    const err = await failure({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/app.deploy.yml': 'package: /packages/../../outside\n',
    });
    expect(err.located).toMatch(
      /^deployments\/app\.deploy\.yml:1: path "\/packages\/\.\.\/\.\.\/outside" escapes the pallet; keep paths inside it/,
    );
  });

  test('a compose file path escaping the pallet with ..', async () => {
    const err = await failure(onePackagePallet({}, 'deployment:\n  compose-files: [../../../compose.yml]\n'));
    expect(err.located).toMatch(
      /^packages\/app\/forklift-package\.yml:2: path "\.\.\/\.\.\/\.\.\/compose\.yml" escapes the pallet/,
    );
  });

  test('a symlink pointing outside the pallet', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'outside-'));
    await writeFile(join(outside, 'compose.yml'), 'services: {a: {image: "x:1"}}\n');
    const err = await failure(onePackagePallet({}, 'deployment:\n  compose-files: [compose.yml]\n'), (root) =>
      symlink(join(outside, 'compose.yml'), join(root, 'packages/app/compose.yml')),
    );
    expect(err.located).toMatch(
      /^packages\/app\/compose\.yml: is a symlink pointing outside the pallet .*replace it with the file itself/,
    );
  });

  test('a symlink inside the pallet is followed', async () => {
    const root = await writeTree(
      onePackagePallet(
        { 'real.yml': 'services: {a: {image: "x:1"}}\n' },
        'deployment:\n  compose-files: [compose.yml]\n',
      ),
    );
    await symlink('real.yml', join(root, 'packages/app/compose.yml'));
    expect((await listPalletImages(root)).map((i) => i.reference)).toEqual(['x:1']);
  });

  test('extends of an unknown service, and include cycles', async () => {
    let err = await failure(simple('services:\n  a:\n    extends: nothing\n'));
    expect(err.located).toMatch(
      /^packages\/app\/compose\.yml:3: service a extends nothing, which packages\/app\/compose\.yml does not define/,
    );
    err = await failure(
      onePackagePallet({
        'compose.yml': 'include: [other.yml]\nservices: {}\n',
        'other.yml': 'include: [compose.yml]\n',
      }),
    );
    expect(err.message).toMatch(/^include cycle: /);
  });

  test('an included service that conflicts with a local one', async () => {
    const err = await failure(
      onePackagePallet({
        'compose.yml': 'include: [other.yml]\nservices:\n  a: {image: "x:1"}\n',
        'other.yml': 'services:\n  a: {image: "x:2"}\n',
      }),
    );
    expect(err.located).toMatch(
      /^packages\/app\/compose\.yml:3: service a is defined here and in the included file packages\/app\/other\.yml/,
    );
  });
});
