import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const run = promisify(execFile);

/** npm as the test was started with (`npm run jest`), else the one on PATH. */
function npm(args: string[], cwd: string) {
  const [command, first] = process.env.npm_execpath
    ? [process.execPath, [process.env.npm_execpath]]
    : ['npm', []];
  // Nothing from the outer npm run (its cache, prefix or registry) may leak into these installs.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  return run(command, [...first, ...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 });
}

function walk(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = walk(path);
      files += sub.files;
      bytes += sub.bytes;
    } else if (entry.isFile()) {
      files++;
      bytes += statSync(path).size;
    }
  }
  return { files, bytes };
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies?: object;
  optionalDependencies?: object;
  peerDependencies?: object;
};
let work: string;
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'package-'));
  const { stdout } = await npm(['pack', '--json', '--pack-destination', work], root);
  tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0]?.filename as string);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the published package', () => {
  test('holds only the bundles, action.yml, README, CHANGELOG and LICENSE, and depends on nothing', async () => {
    const { stdout } = await npm(['pack', '--dry-run', '--json'], root);
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path).sort();
    expect(files).toEqual(
      [
        'CHANGELOG.md',
        'LICENSE',
        'README.md',
        'action.yml',
        'dist/cli/index.js',
        'dist/cli/licenses.txt',
        'dist/cli/package.json',
        'dist/index.js',
        'dist/licenses.txt',
        'dist/package.json',
        'package.json',
      ].sort(),
    );
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    expect(pkg.peerDependencies ?? {}).toEqual({});
  });

  test('the CLI bundle leaves out the Actions cache client, which only the action uses', () => {
    // Bundled packages are the licence list's top-level names; the client and its Azure SDK were
    // most of the CLI's bundle and of its start-up time.
    const bundled = (dir: string) =>
      readFileSync(join(root, dir, 'licenses.txt'), 'utf8')
        .split('\n')
        .filter((l) => /^@?[a-z0-9-]+(\/[a-z0-9.-]+)?$/.test(l));
    expect(bundled('dist')).toEqual(expect.arrayContaining(['@actions/cache', '@azure/storage-blob']));
    expect(bundled('dist/cli').filter((p) => p.startsWith('@actions/') || p.startsWith('@azure/'))).toEqual(
      [],
    );
    expect(bundled('dist/cli')).toContain('undici');
  });

  test('npm install -g of the tarball, offline, installs only the package and its command runs', async () => {
    const prefix = join(work, 'prefix');
    await npm(
      [
        'install',
        '-g',
        '--offline',
        '--no-audit',
        '--no-fund',
        '--prefix',
        prefix,
        '--cache',
        join(work, 'cache'),
        tarball,
      ],
      work,
    );
    const installed = join(prefix, 'lib', 'node_modules');
    expect(readdirSync(installed)).toEqual(['cache-images']);
    expect(existsSync(join(installed, 'cache-images', 'node_modules'))).toBe(false);
    const { files, bytes } = walk(prefix);
    // Before the dependencies moved into the bundle: 54 packages, 6177 files, 45 MB.
    expect(files).toBeLessThanOrEqual(12);
    // The two bundles (action and CLI) are the bulk: about 11 MB with the store and inspect.
    expect(bytes).toBeLessThan(16 * 1024 * 1024);
    const { stdout } = await run(join(prefix, 'bin', 'cache-images'), ['--version']);
    expect(stdout).toBe(`${pkg.version}\n`);
  });

  test('npx runs the packed CLI offline, from any folder', async () => {
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(elsewhere);
    const pallet = join(root, '__tests__', 'fixtures', 'pallets', 'basic');
    const { stdout } = await npm(
      [
        'exec',
        '--yes',
        '--offline',
        '--cache',
        join(work, 'npx-cache'),
        '--package',
        tarball,
        '--',
        'cache-images',
        'list',
        '--pallet',
        pallet,
      ],
      elsewhere,
    );
    expect(stdout.split('\n')).toContain('docker.io/library/alpine:3.20');
  });
});
