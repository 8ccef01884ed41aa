import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { cp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { listPalletImages, type PalletOptions } from '../../src/pallet/index.js';
import { UserError } from '../../src/util/errors.js';
import { lockYaml, setUpLayered, type LayeredSetup } from './git-fixtures.js';
import { PALLET_YML, writeTree } from './helpers.js';

let s: LayeredSetup;
const savedEnv = { global: process.env.GIT_CONFIG_GLOBAL, nosystem: process.env.GIT_CONFIG_NOSYSTEM };

beforeAll(async () => {
  s = await setUpLayered();
});

afterAll(async () => {
  if (savedEnv.global === undefined) delete process.env.GIT_CONFIG_GLOBAL;
  else process.env.GIT_CONFIG_GLOBAL = savedEnv.global;
  if (savedEnv.nosystem === undefined) delete process.env.GIT_CONFIG_NOSYSTEM;
  else process.env.GIT_CONFIG_NOSYSTEM = savedEnv.nosystem;
  await rm(s.tmp, { recursive: true, force: true });
});

let runs = 0;
/** Fresh caches per call unless given, so every test fetches what it needs itself. */
function opts(extra: PalletOptions = {}): PalletOptions {
  runs++;
  return { cacheDir: join(s.tmp, `cache-${runs}`), forkliftCacheDir: join(s.tmp, `fk-${runs}`), ...extra };
}
const refs = (images: { reference: string }[]): string[] => images.map((i) => i.reference);

const TOP_COMPOSE = [
  'docker.io/grafana/grafana:11.3.0',
  'docker.io/library/caddy:2.8',
  'docker.io/library/nginx:1.27-alpine',
  'docker.io/library/postgres:16',
  'docker.io/library/postgres:17',
  'docker.io/library/redis:7.4',
];

describe('layered pallet with requirements fetched by git', () => {
  test('imports (add, remove, add-feature, globs, local override) and required repositories', async () => {
    expect(refs(await listPalletImages(s.top, opts({ kind: 'compose' })))).toEqual(TOP_COMPOSE);
    expect(refs(await listPalletImages(s.top, opts({ kind: 'file-export' })))).toEqual([
      'ghcr.io/planktoscope/machine-name:0.1.3',
    ]);
  });

  test('provenance of imported and repository files', async () => {
    const images = await listPalletImages(s.top, opts());
    const by = (ref: string) => images.find((i) => i.reference === ref)?.requiredBy;
    expect(by('docker.io/library/caddy:2.8')).toEqual([
      {
        deployment: 'edge/caddy',
        package: 'example.test/device-pkgs/core/infra/caddy',
        file: 'example.test/device-pkgs/core/infra/caddy/compose.yml',
        line: 3,
        service: 'caddy',
      },
    ]);
    expect(by('docker.io/library/nginx:1.27-alpine')?.[0]?.file).toBe('packages/web/compose.yml');
    // Imported through mid from base: named where the bytes come from.
    expect(by('docker.io/library/postgres:16')?.[0]).toEqual({
      deployment: 'base/db',
      package: '/packages/db',
      file: 'example.test/base/packages/db/compose.yml',
      line: 3,
      service: 'db',
    });
    expect(by('ghcr.io/planktoscope/machine-name:0.1.3')?.[0]?.fileExport).toBe(
      'overlays/usr/bin/machine-name',
    );
  });

  test('fetched commits are cached and reused without the network', async () => {
    const cacheDir = join(s.tmp, 'shared-cache');
    const o = { cacheDir, forkliftCacheDir: join(s.tmp, 'no-fk'), kind: 'compose' as const };
    expect(refs(await listPalletImages(s.top, o))).toEqual(TOP_COMPOSE);
    expect((await readdir(join(cacheDir, 'repositories', 'example.test'))).sort()).toEqual([
      `device-pkgs@${s.commits.devicePkgs}`,
      `pkg-pallet@${s.commits.pkgPallet}`,
    ]);
    await rename(s.gitRoot, `${s.gitRoot}.away`);
    try {
      expect(refs(await listPalletImages(s.top, o))).toEqual(TOP_COMPOSE);
    } finally {
      await rename(`${s.gitRoot}.away`, s.gitRoot);
    }
  });

  test("Forklift's own cache folder is used when present", async () => {
    const fk = join(s.tmp, 'fk-present');
    const copy = join(fk, 'repositories', 'example.test', 'device-pkgs@v1.2.3');
    await cp(join(s.gitRoot, 'device-pkgs'), copy, { recursive: true });
    await writeTree(
      { 'core/infra/caddy/compose.yml': 'services: {caddy: {image: "docker.io/library/caddy:2.9"}}\n' },
      copy,
    );
    // The pseudo-version of mid's lock (tag v0.1.0): v0.1.1-0.<timestamp>-<commit[:12]>.
    const midCopy = join(
      fk,
      'pallets',
      'example.test',
      `mid@v0.1.1-0.20240425042812-${s.commits.mid?.slice(0, 12)}`,
    );
    await cp(join(s.gitRoot, 'mid'), midCopy, { recursive: true });
    await writeTree(
      { 'packages/cache/compose.yml': 'services: {cache: {image: "docker.io/library/redis:7.2"}}\n' },
      midCopy,
    );
    const images = refs(await listPalletImages(s.top, opts({ forkliftCacheDir: fk, kind: 'compose' })));
    expect(images).toContain('docker.io/library/caddy:2.9');
    expect(images).toContain('docker.io/library/redis:7.2');
  });

  test('PATH=DIR overrides for a repository and a pallet', async () => {
    const repo = await writeTree({
      'core/infra/caddy/forklift-package.yml': 'deployment: {compose-files: [compose.yml]}\n',
      'core/infra/caddy/compose.yml': 'services: {caddy: {image: "docker.io/library/caddy:2.10"}}\n',
      'core/tools/namer/forklift-package.yml': 'deployment: {}\n',
    });
    const mid = join(s.tmp, 'mid-override');
    await cp(join(s.gitRoot, 'mid'), mid, { recursive: true });
    await writeTree(
      { 'packages/cache/compose.yml': 'services: {cache: {image: "docker.io/library/redis:7.0"}}\n' },
      mid,
    );
    const images = refs(
      await listPalletImages(
        s.top,
        opts({
          repoOverrides: { 'example.test/device-pkgs': repo },
          palletOverrides: { 'example.test/mid': mid },
        }),
      ),
    );
    expect(images).toContain('docker.io/library/caddy:2.10');
    expect(images).toContain('docker.io/library/redis:7.0');
    expect(images).not.toContain('ghcr.io/planktoscope/machine-name:0.1.3');
  });
});

async function failure(root: string, extra: PalletOptions = {}): Promise<UserError> {
  const err = await listPalletImages(root, opts(extra)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UserError)) throw new Error(`expected a UserError, got ${String(err)}`);
  return err;
}

describe('requirement errors', () => {
  test('a commit that cannot be fetched', async () => {
    const root = await writeTree({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/a.deploy.yml': 'package: example.test/device-pkgs/core/infra/caddy\n',
      'requirements/repositories/example.test/device-pkgs/forklift-version-lock.yml': lockYaml(
        'f'.repeat(40),
      ),
    });
    const err = await failure(root);
    expect(err.file).toBe('requirements/repositories/example.test/device-pkgs/forklift-version-lock.yml');
    expect(err.message).toMatch(/ffffffff/);
    expect(err.message).toMatch(/(fix the commit in this lock|check the path)/);
  });

  test('a repository that does not exist', async () => {
    const root = await writeTree({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/a.deploy.yml': 'package: example.test/nowhere/pkg\n',
      'requirements/repositories/example.test/nowhere/forklift-version-lock.yml': lockYaml('a'.repeat(40)),
    });
    const err = await failure(root);
    expect(err.located).toMatch(
      /^requirements\/repositories\/example\.test\/nowhere\/forklift-version-lock\.yml: could not fetch https:\/\/example\.test\/nowhere: .*check the path/,
    );
  });

  test('a package path escaping its repository', async () => {
    const repo = await writeTree({ 'forklift-package.yml': 'deployment: {}\n' });
    const root = await writeTree({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/a.deploy.yml': 'package: example.test/r/../../x\n',
      'requirements/repositories/example.test/r/forklift-version-lock.yml': lockYaml('a'.repeat(40)),
    });
    const err = await failure(root, { repoOverrides: { 'example.test/r': repo } });
    expect(err.located).toMatch(
      /^deployments\/a\.deploy\.yml:1: path "\.\.\/\.\.\/x" escapes repository example\.test\/r/,
    );
  });

  test('pallets importing each other', async () => {
    const group = 'modifiers: [{source: /packages, target: /packages}]\n';
    const a = await writeTree({
      'forklift-pallet.yml': 'forklift-version: v0.8.0\npallet: {path: example.test/cyc-a}\n',
      'requirements/pallets/example.test/cyc-b/forklift-version-lock.yml': lockYaml('b'.repeat(40)),
      'requirements/pallets/example.test/cyc-b/all.imports.yml': group,
    });
    const b = await writeTree({
      'forklift-pallet.yml': 'forklift-version: v0.8.0\npallet: {path: example.test/cyc-b}\n',
      'requirements/pallets/example.test/cyc-a/forklift-version-lock.yml': lockYaml('a'.repeat(40)),
      'requirements/pallets/example.test/cyc-a/all.imports.yml': group,
    });
    const err = await failure(a, { palletOverrides: { 'example.test/cyc-a': a, 'example.test/cyc-b': b } });
    expect(err.message).toBe(
      'pallets import each other: example.test/cyc-a -> example.test/cyc-b -> example.test/cyc-a; remove one of these requirements',
    );
    expect(err.file).toBe('example.test/cyc-b/requirements/pallets/example.test/cyc-a/all.imports.yml');
  });

  test('an import may not write a root-level file or under /requirements/pallets', async () => {
    const req = await writeTree({
      'forklift-pallet.yml': 'forklift-version: v0.8.0\npallet: {path: example.test/req}\n',
      'packages/x/forklift-package.yml': 'deployment: {}\n',
    });
    const pallet = (group: string) =>
      writeTree({
        'forklift-pallet.yml': PALLET_YML,
        'requirements/pallets/example.test/req/forklift-version-lock.yml': lockYaml('c'.repeat(40)),
        'requirements/pallets/example.test/req/g.imports.yml': group,
      });
    let err = await failure(await pallet('modifiers: [{}]\n'), {
      palletOverrides: { 'example.test/req': req },
    });
    expect(err.located).toMatch(
      /^requirements\/pallets\/example\.test\/req\/g\.imports\.yml:1: an import may not write the root-level file \/forklift-pallet\.yml/,
    );
    err = await failure(await pallet('modifiers: [{source: /packages, target: /requirements/pallets/x}]\n'), {
      palletOverrides: { 'example.test/req': req },
    });
    expect(err.message).toMatch(/under \/requirements\/pallets/);
  });

  test('an import group without a required pallet lock', async () => {
    const root = await writeTree({
      'forklift-pallet.yml': PALLET_YML,
      'requirements/pallets/example.test/none/g.imports.yml': 'modifiers: [{target: /packages}]\n',
    });
    const err = await failure(root);
    expect(err.located).toMatch(
      /^requirements\/pallets\/example\.test\/none\/g\.imports\.yml:1: import group example\.test\/none\/g names no required pallet/,
    );
  });
});
