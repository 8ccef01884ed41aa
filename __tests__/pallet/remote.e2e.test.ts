import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stderrOf } from '../../src/pallet/git-fetch.js';
import { readPallet } from '../../src/pallet/index.js';
import { selectImages } from '../../src/pipeline/images.js';
import { UserError } from '../../src/util/errors.js';
import { writeTree } from './helpers.js';

/**
 * A pallet published in a real git repository, reached as https://example.test/pallet-std through
 * an `insteadOf` rewrite in a temporary global gitconfig (never the machine's own): tag v2025.0.0,
 * then main one commit later, then branch edge.
 */
let tmp: string;
let gitRoot: string;
const commits: Record<string, string> = {};
const PATH = 'example.test/pallet-std';

function git(cwd: string, args: string[], date = '2025-01-02T03:04:05Z'): string {
  return execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.test', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

function palletFiles(tag: string): Record<string, string> {
  return {
    'forklift-pallet.yml': `forklift-version: v0.7.2\npallet:\n  path: ${PATH}\n`,
    'deployments/app.deploy.yml': 'package: /packages/app\n',
    'packages/app/forklift-package.yml': 'deployment:\n  compose-files: [compose.yml]\n',
    'packages/app/compose.yml': `services:\n  app:\n    image: example.test/app:${tag}\n`,
  };
}

async function commit(repo: string, files: Record<string, string>, date: string): Promise<string> {
  await writeTree(files, repo);
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', 'change'], date);
  return git(repo, ['rev-parse', 'HEAD']);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'pallet-remote-'));
  gitRoot = join(tmp, 'git');
  const gitconfig = join(tmp, 'gitconfig');
  await writeFile(gitconfig, `[url "file://${gitRoot}/"]\n\tinsteadOf = https://example.test/\n`);
  process.env.GIT_CONFIG_GLOBAL = gitconfig;
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  const repo = join(gitRoot, 'pallet-std');
  await writeTree({ 'README.md': 'pallet\n' }, repo);
  git(repo, ['init', '-q', '-b', 'main']);
  commits.tagged = await commit(repo, palletFiles('1'), '2025-01-01T00:00:00Z');
  git(repo, ['tag', '-a', '-m', 'release', 'v2025.0.0']);
  commits.main = await commit(repo, palletFiles('2'), '2025-01-02T03:04:05Z');
  git(repo, ['checkout', '-q', '-b', 'edge']);
  commits.edge = await commit(repo, palletFiles('3'), '2025-01-03T00:00:00Z');
  git(repo, ['checkout', '-q', 'main']);
  git(repo, ['branch', 'release/2025', commits.tagged]);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Reads a pallet with caches of its own under `cache` (one per scenario). */
async function read(spec: string, cache: string, warn?: (m: string) => void) {
  const { images, pallet } = await readPallet(spec, {
    cacheDir: join(tmp, cache, 'ours'),
    forkliftCacheDir: join(tmp, cache, 'forklift'),
    warn,
  });
  return { images: images.map((i) => i.reference), pallet };
}

async function failure(spec: string, cache: string): Promise<UserError> {
  const err = await read(spec, cache).catch((e: unknown) => e);
  if (!(err instanceof UserError)) throw new Error(`expected a UserError, got ${String(err)}`);
  expect(err.located.split('\n')).toHaveLength(1);
  return err;
}

describe('a remote pallet named host/path@version', () => {
  test('a tag, a branch, full and abbreviated commits and a pseudo-version each give their commit', async () => {
    const pseudo = `v2025.0.1-0.20250102030405-${commits.main!.slice(0, 12)}`;
    const cases: [string, string, string][] = [
      ['v2025.0.0', commits.tagged!, 'example.test/app:1'],
      ['main', commits.main!, 'example.test/app:2'],
      ['edge', commits.edge!, 'example.test/app:3'],
      ['release/2025', commits.tagged!, 'example.test/app:1'],
      [commits.main!, commits.main!, 'example.test/app:2'],
      [commits.edge!.slice(0, 9), commits.edge!, 'example.test/app:3'],
      [pseudo, commits.main!, 'example.test/app:2'],
    ];
    for (const [version, commit, image] of cases) {
      const { images, pallet } = await read(`${PATH}@${version}`, 'kinds');
      expect({ version, images, pallet }).toEqual({
        version,
        images: [image],
        pallet: {
          path: PATH,
          version,
          commit,
          dir: join(tmp, 'kinds', 'ours', 'pallets', `${PATH}@${commit}`),
        },
      });
    }
  });

  test('a second resolution is served from the cache without fetching', async () => {
    const first = await read(`${PATH}@v2025.0.0`, 'again');
    await read(`${PATH}@${commits.edge!.slice(0, 7)}`, 'again');
    const fetchHead = join(tmp, 'again', 'ours', 'mirrors', `${PATH}.git`, 'FETCH_HEAD');
    const fetchedAt = (await stat(fetchHead)).mtimeMs;
    // With the repository gone, only the cache can answer.
    await rename(join(gitRoot, 'pallet-std'), join(gitRoot, 'moved'));
    try {
      const started = performance.now();
      expect(await read(`${PATH}@v2025.0.0`, 'again')).toEqual(first);
      expect((await read(`${PATH}@${commits.edge!.slice(0, 7)}`, 'again')).pallet.commit).toBe(commits.edge);
      expect((await read(`${PATH}@${commits.tagged}`, 'again')).pallet.commit).toBe(commits.tagged);
      expect(performance.now() - started).toBeLessThan(5000);
      expect((await stat(fetchHead)).mtimeMs).toBe(fetchedAt);
      // A branch moves, so it is asked for again; unreachable, the last fetched commit stands.
      const warnings: string[] = [];
      const edge = await read(`${PATH}@edge`, 'again', (m) => warnings.push(m));
      expect(edge.pallet.commit).toBe(commits.edge);
      expect(warnings).toEqual([
        expect.stringMatching(
          /^could not fetch https:\/\/example\.test\/pallet-std to resolve .*@edge: .*; using branch edge as last fetched \(commit [0-9a-f]{40}\)$/,
        ),
      ]);
    } finally {
      await rename(join(gitRoot, 'moved'), join(gitRoot, 'pallet-std'));
    }
  });

  test('an unknown version is one clear error naming the pallet and its tags', async () => {
    // A revision expression is not a version, though git would evaluate it.
    expect((await failure(`${PATH}@main~1`, 'unknown')).message).toMatch(
      /has no tag, branch or commit main~1;/,
    );
    const err = await failure(`${PATH}@v9.9.9`, 'unknown');
    expect(err.code).toBe('pallet');
    expect(err.message).toBe(
      'example.test/pallet-std has no tag, branch or commit v9.9.9; name one that exists (its newest tags: v2025.0.0)',
    );
    const wrong = await failure(
      `${PATH}@v2025.0.1-0.20990101000000-${commits.main!.slice(0, 12)}`,
      'unknown',
    );
    expect(wrong.message).toMatch(
      /names commit [0-9a-f]{12}, whose version is v2025\.0\.1-0\.20250102030405-/,
    );
  });

  test('an unreachable repository is one clear error', async () => {
    const err = await failure('example.test/no-such-pallet@v1.0.0', 'unreachable');
    expect(err.code).toBe('pallet');
    expect(err.message).toMatch(
      /^could not fetch https:\/\/example\.test\/no-such-pallet to resolve example\.test\/no-such-pallet@v1\.0\.0: .+; check the path, your network and git credentials/,
    );
    const byCommit = await failure(`example.test/no-such-pallet@${'a'.repeat(40)}`, 'unreachable');
    expect(byCommit.message).toMatch(/^could not fetch https:\/\/example\.test\/no-such-pallet: /);
  });

  test('a string that is neither a folder nor host/path@version is a bad input', async () => {
    for (const spec of ['no/such/folder', 'pallet-std@v1', `${PATH}@`]) {
      const err = await failure(spec, 'bad');
      expect(err.facts).toMatchObject({ code: 'invalid-input', option: 'pallet' });
      expect(err.message).toMatch(/is neither an existing folder nor a remote pallet PATH@VERSION/);
    }
  });

  test('a mistake inside a remote pallet names it as path@version (commit)', async () => {
    const repo = join(gitRoot, 'pallet-std');
    git(repo, ['checkout', '-q', '-b', 'broken']);
    const broken = await commit(
      repo,
      { 'deployments/app.deploy.yml': 'package: /packages/app\nfeatures: [nope]\n' },
      '2025-01-04T00:00:00Z',
    );
    git(repo, ['checkout', '-q', 'main']);
    const err = await failure(`${PATH}@broken`, 'broken');
    expect(err.code).toBe('pallet');
    expect(err.located).toBe(
      `deployments/app.deploy.yml:2: package /packages/app has no feature nope; it defines no features, so remove features: [pallet ${PATH}@broken (${broken})]`,
    );
  });

  test('selectImages takes the remote pallet and reports which one it read', async () => {
    process.env.XDG_CACHE_HOME = join(tmp, 'xdg');
    const selected = await selectImages({ pallet: `${PATH}@v2025.0.0` });
    expect(selected.references).toEqual(['example.test/app:1']);
    expect(selected.source).toMatchObject({ path: PATH, version: 'v2025.0.0', commit: commits.tagged });
  });
});

test('credentials in a URL git echoes never reach a message', () => {
  const stderr =
    "Cloning...\nfatal: unable to access 'https://x-access-token:ghs_secret@github.com/o/p/': The requested URL returned error: 403\n";
  expect(stderrOf({ stderr })).toBe(
    "Cloning... / fatal: unable to access 'https://***@github.com/o/p/': The requested URL returned error: 403",
  );
});
