import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, writeTree } from './helpers.js';

const LAYERED = join(FIXTURES, 'layered');

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.test', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

export function lockYaml(commit: string, opts: { type?: string; tag?: string } = {}): string {
  const type = opts.type ?? 'pseudoversion';
  return `type: ${type}\n${opts.tag ? `tag: ${opts.tag}\n` : ''}timestamp: "20240425042812"\ncommit: ${commit}\n`;
}

/** Copies a fixture folder into `<gitRoot>/<name>`, adds `extra` files, commits, returns the commit. */
async function commitFixture(
  gitRoot: string,
  fixture: string,
  name: string,
  extra: Record<string, string> = {},
): Promise<string> {
  const dir = join(gitRoot, name);
  await cp(join(LAYERED, fixture), dir, { recursive: true });
  await writeTree(extra, dir);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', `fixture ${name}`);
  return git(dir, 'rev-parse', 'HEAD');
}

export interface LayeredSetup {
  tmp: string;
  gitRoot: string;
  top: string;
  commits: Record<string, string>;
}

/**
 * Real git repositories for the layered fixture, served to the `git` command through an
 * `insteadOf` rewrite of https://example.test/ in a temporary global gitconfig (never the
 * user's own), and the top pallet with locks naming their commits.
 */
export async function setUpLayered(): Promise<LayeredSetup> {
  const tmp = await mkdtemp(join(tmpdir(), 'pallet-layered-'));
  const gitRoot = join(tmp, 'git');
  const gitconfig = join(tmp, 'gitconfig');
  await writeFile(
    gitconfig,
    `[url "file://${gitRoot}/"]\n\tinsteadOf = https://example.test/\n[init]\n\tdefaultBranch = main\n`,
  );
  process.env.GIT_CONFIG_GLOBAL = gitconfig;
  process.env.GIT_CONFIG_NOSYSTEM = '1';

  const base = await commitFixture(gitRoot, 'pallets/base', 'base');
  const baseLock = { 'requirements/pallets/example.test/base/forklift-version-lock.yml': lockYaml(base) };
  const mid = await commitFixture(gitRoot, 'pallets/mid', 'mid', baseLock);
  const pkgPallet = await commitFixture(gitRoot, 'repos/pkg-pallet', 'pkg-pallet', baseLock);
  const devicePkgs = await commitFixture(gitRoot, 'repos/device-pkgs', 'device-pkgs');

  const top = join(tmp, 'top');
  await cp(join(LAYERED, 'top'), top, { recursive: true });
  await writeTree(
    {
      'requirements/pallets/example.test/mid/forklift-version-lock.yml': lockYaml(mid, { tag: 'v0.1.0' }),
      'requirements/repositories/example.test/device-pkgs/forklift-version-lock.yml': lockYaml(devicePkgs, {
        type: 'version',
        tag: 'v1.2.3',
      }),
      'requirements/repositories/example.test/pkg-pallet/forklift-version-lock.yml': lockYaml(pkgPallet),
    },
    top,
  );
  return { tmp, gitRoot, top, commits: { base, mid, pkgPallet, devicePkgs } };
}
