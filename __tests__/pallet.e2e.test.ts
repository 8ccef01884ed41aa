import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runAction } from './harness/action-runner.js';
import { cli } from './harness/cli.js';
import { startRegistry, type TestRegistry } from './harness/registry-server.js';
import { buildImage, pushImage } from './harness/test-images.js';

const work = mkdtempSync(join(tmpdir(), 'pallet-e2e-'));
let registry: TestRegistry;

function write(root: string, files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** A small pallet whose images live on the test registry: two enabled deployments, one disabled. */
function makePallet(host: string): string {
  const root = mkdtempSync(join(work, 'pallet-'));
  write(root, {
    'forklift-pallet.yml': 'forklift-version: v0.7.2\npallet:\n  path: example.test/pallet\n',
    'deployments/apps/web.deploy.yml': 'package: /packages/web\nfeatures: [extra]\n',
    'deployments/apps/off.deploy.yml': 'package: /packages/off\ndisabled: true\n',
    'packages/web/forklift-package.yml':
      'deployment:\n  compose-files: [compose.yml]\nfeatures:\n  extra:\n    compose-files: [compose-extra.yml]\n',
    'packages/web/compose.yml': `services:\n  web:\n    image: ${host}/apps/web:1.0\n`,
    'packages/web/compose-extra.yml': `services:\n  api:\n    image: ${host}/apps/api:2.1\n`,
    'packages/off/forklift-package.yml': 'deployment:\n  compose-files: [compose.yml]\n',
    'packages/off/compose.yml': `services:\n  off:\n    image: ${host}/apps/off:1\n`,
  });
  return root;
}

beforeAll(async () => {
  registry = await startRegistry();
  for (const [name, tag] of [
    ['apps/web', '1.0'],
    ['apps/api', '2.1'],
    ['apps/off', '1'],
  ] as const) {
    await pushImage(registry.host, name, tag, buildImage({ seed: `pallet-${name}` }));
  }
});

afterAll(async () => {
  await registry?.stop();
});

describe('a pallet through the CLI', () => {
  test('list prints the enabled deployments images, sorted; --include-disabled adds the rest', async () => {
    const pallet = makePallet(registry.host);
    const r = await cli(['list', '--pallet', pallet]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${registry.host}/apps/api:2.1\n${registry.host}/apps/web:1.0\n`);
    const all = await cli(['list', '--pallet', pallet, '--include-disabled']);
    expect(all.stdout.split('\n').filter(Boolean)).toHaveLength(3);
  });

  test('list --json says where each image is required', async () => {
    const pallet = makePallet(registry.host);
    const r = await cli(['list', '--pallet', pallet, '--json']);
    const api = JSON.parse(r.stdout).find((i: { reference: string }) => i.reference.endsWith('apps/api:2.1'));
    expect(api.kind).toBe('compose');
    expect(api.pallet).toBe(pallet);
    expect(api.requiredBy).toEqual([
      expect.objectContaining({ deployment: 'apps/web', package: '/packages/web', service: 'api' }),
    ]);
  });

  test('pull --pallet pulls every image the pallet requires, plus --image', async () => {
    const pallet = makePallet(registry.host);
    const layout = join(work, 'layout');
    const r = await cli([
      'pull',
      ...['--pallet', pallet, '--image', `${registry.host}/apps/off:1`],
      ...['--platform', 'linux/arm64', '--layout', layout],
    ]);
    expect(r.code).toBe(0);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    expect(
      index.manifests
        .map(
          (d: { annotations: Record<string, string> }) => d.annotations['org.opencontainers.image.ref.name'],
        )
        .sort(),
    ).toEqual([
      `${registry.host}/apps/api:2.1`,
      `${registry.host}/apps/off:1`,
      `${registry.host}/apps/web:1.0`,
    ]);
  });

  test('a registry error on a pallet image names the deployment that requires it', async () => {
    const pallet = makePallet(registry.host);
    write(pallet, {
      'packages/web/compose-extra.yml': `services:\n  api:\n    image: ${registry.host}/apps/gone:1\n`,
    });
    const r = await cli([
      'pull',
      '--pallet',
      pallet,
      '--platform',
      'linux/arm64',
      '--layout',
      join(work, 'gone'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /apps\/gone:1 .*tag 1 not found.* \[required by deployment apps\/web \(packages\/web\/compose-extra\.yml\)\]/,
    );
  });

  test('a mistake in the pallet is one line naming file and line, nothing on stdout', async () => {
    const pallet = makePallet(registry.host);
    write(pallet, {
      'deployments/apps/web.deploy.yml': 'package: /packages/web\nfeatures: [extra, nosuch]\n',
    });
    const r = await cli(['list', '--pallet', pallet]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: deployments\/apps\/web\.deploy\.yml:2: .*nosuch/);
  });
});

describe('hostile and historical pallets through the CLI', () => {
  test('an alias bomb is one error line with file and line, quickly', async () => {
    const pallet = makePallet(registry.host);
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [n, p] of ['ba', 'cb', 'dc', 'ed', 'fe', 'gf', 'hg', 'ih'])
      bomb.push(`${n}: &${n} [${Array(9).fill(`*${p}`).join(',')}]`);
    write(pallet, {
      'packages/web/compose.yml': `services:\n  web:\n    image: ${registry.host}/apps/web:1.0\n    labels:\n      x:\n${bomb.map((l) => `        ${l}`).join('\n')}\n`,
    });
    const started = performance.now();
    const r = await cli(['list', '--pallet', pallet]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^error: packages\/web\/compose\.yml:9: YAML aliases expand this document too much .*excessive aliasing/,
    );
    // The process as a whole (Node start included); the parse itself is asserted under 1 s in the unit test.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  test('list prints images without tag or digest as written; pull refuses them all in one line', async () => {
    const pallet = makePallet(registry.host);
    write(pallet, {
      'packages/web/compose.yml': `services:\n  web:\n    image: ${registry.host}/apps/web\n`,
      'packages/off/compose.yml': 'services:\n  off:\n    image: busybox\n',
    });
    const listed = await cli(['list', '--pallet', pallet, '--include-disabled']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe(`${registry.host}/apps/api:2.1\n${registry.host}/apps/web\nbusybox\n`);
    const r = await cli([
      'pull',
      ...['--pallet', pallet, '--include-disabled', '--platform', 'linux/arm64'],
      ...['--layout', join(work, 'unpinned')],
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: packages/web/compose\\.yml:3: 2 images cannot be pulled: image ${registry.host.replace(/\./g, '\\.')}/apps/web has neither a tag nor a digest, at packages/web/compose\\.yml:3 \\(deployment apps/web, service web\\); image busybox has neither a tag nor a digest, at packages/off/compose\\.yml:3 \\(deployment apps/off, service off\\); pin each`,
      ),
    );
  });
});

describe('a remote pallet named host/path@version', () => {
  test('list and pull read it from git at the version named, through insteadOf', async () => {
    const gitRoot = mkdtempSync(join(work, 'git-'));
    const repo = join(gitRoot, 'pallet');
    const source = makePallet(registry.host);
    const { cpSync } = await import('node:fs');
    cpSync(source, repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.test', ...args], {
        cwd: repo,
        encoding: 'utf8',
      }).trim();
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'pallet');
    git('tag', 'v1.0.0');
    const commit = git('rev-parse', 'HEAD');
    // The machine's own git configuration is never touched: a global config of the test's own.
    const gitconfig = join(gitRoot, 'gitconfig');
    writeFileSync(gitconfig, `[url "file://${gitRoot}/"]\n\tinsteadOf = https://example.test/\n`);
    const env = {
      GIT_CONFIG_GLOBAL: gitconfig,
      GIT_CONFIG_NOSYSTEM: '1',
      XDG_CACHE_HOME: join(gitRoot, 'cache'),
    };
    const r = await cli(['list', '--pallet', 'example.test/pallet@v1.0.0'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${registry.host}/apps/api:2.1\n${registry.host}/apps/web:1.0\n`);
    const json = await cli(['list', '--pallet', 'example.test/pallet@v1.0.0', '--json'], env);
    for (const image of JSON.parse(json.stdout) as { pallet: string }[])
      expect(image.pallet).toBe(`example.test/pallet@v1.0.0 (${commit})`);
    const layout = join(work, 'remote-layout');
    const pulled = await cli(
      [
        'pull',
        '--pallet',
        `example.test/pallet@${commit.slice(0, 8)}`,
        '--platform',
        'linux/arm64',
        '--layout',
        layout,
      ],
      env,
    );
    expect(pulled.code).toBe(0);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(2);
    const missing = await cli(['list', '--pallet', 'example.test/pallet@v9'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'error: example.test/pallet has no tag, branch or commit v9; name one that exists (its newest tags: v1.0.0)\n',
    );
  });
});

describe('a pallet through the action', () => {
  test('a pallet mistake becomes an annotation on its file and line in the workspace', async () => {
    const workspace = mkdtempSync(join(work, 'ws-'));
    const pallet = makePallet(registry.host);
    write(pallet, {
      'deployments/apps/web.deploy.yml': 'package: /packages/web\nfeatures: [extra, nosuch]\n',
    });
    const sub = join(workspace, 'pallet');
    const { cpSync } = await import('node:fs');
    cpSync(pallet, sub, { recursive: true });
    const r = await runAction({ pallet: 'pallet', platform: 'linux/arm64', cache: 'false' }, {}, workspace);
    expect(r.code).toBe(1);
    expect(r.commands.join('\n')).toMatch(
      /::error title=cache-images,file=pallet\/deployments\/apps\/web\.deploy\.yml,line=2::.*nosuch/,
    );
    // One mistake, one annotation: none without the file beside it.
    expect(r.commands.filter((c) => c.startsWith('::error'))).toHaveLength(1);
  });

  test('the summary names the deployments requiring each image', async () => {
    const workspace = mkdtempSync(join(work, 'ws-'));
    const { cpSync } = await import('node:fs');
    cpSync(makePallet(registry.host), workspace, { recursive: true });
    const r = await runAction({ platform: 'linux/arm64', cache: 'false' }, {}, workspace);
    expect(r.code).toBe(0);
    expect(r.summary).toMatch(/apps\/api:2\.1<\/code><\/td>.*<td>apps\/web<\/td>/s);
    expect(r.outputs['archive-path']).toBe(join(workspace, 'cache-images.tar'));
  });
});

describe('the example pallet in the repository', () => {
  test('lists exactly the images its deployments declare', async () => {
    const r = await cli(['list', '--pallet', 'examples/pallet-minimal']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'docker.io/grafana/grafana:11.3.0\ndocker.io/library/alpine:3.20\ndocker.io/library/nginx:1.27-alpine\n',
    );
  });
});
