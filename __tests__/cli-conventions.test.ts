import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';

/** What one in-process run of the CLI printed. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

// A registry stand-in that only counts: a usage mistake must be caught before any request.
let requests = 0;
let server: Server;
let host: string;
let work: string;
beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  requests = 0;
  work = mkdtempSync(join(tmpdir(), 'cli-conventions-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const pull = (...more: string[]) => [
  'pull',
  '--image',
  `${host}/app:1`,
  '--layout',
  join(work, 'layout'),
  ...more,
];

describe('usage mistakes exit 2 with one line and the help, before any request', () => {
  test.each([
    [['--platfrom', 'linux/arm64'], 'error: unknown option --platfrom (did you mean --platform?)'],
    [
      ['--platform', 'linux/arm64', '--concurency', '4'],
      'error: unknown option --concurency (did you mean --concurrency?)',
    ],
    [
      ['--platform', 'linux/arm64', '--kind', 'all'],
      "error: unknown option --kind: 'cache-images list' takes it, 'pull' does not",
    ],
    [
      ['--platform', 'linux/arm64', '--platform', 'linux/amd64'],
      'error: --platform: one platform per run, got linux/arm64, linux/amd64',
    ],
    [
      ['--platform', 'linux/armv7'],
      'error: --platform: invalid platform "linux/armv7": did you mean linux/arm/v7?',
    ],
    [
      ['--platform', 'linux/arm64/v7'],
      'error: --platform: invalid platform "linux/arm64/v7": did you mean linux/arm/v7?',
    ],
    [
      ['--platform', 'linux/arm/v9'],
      'error: --platform: invalid platform "linux/arm/v9": unknown variant v9 of arm (known: v5, v6, v7, v8)',
    ],
    [
      ['--platform', 'linux/arm64', '--concurrency', '0'],
      'error: --concurrency: must be a whole number from 1 to 64, got "0"',
    ],
    [
      ['--platform', 'linux/arm64', '--concurrency', '65'],
      'error: --concurrency: must be a whole number from 1 to 64, got "65"',
    ],
    [
      ['--platform', 'linux/arm64', '--lock-timeout', 'soon'],
      'error: --lock-timeout: must be a duration such as 30s, 10m or 1h',
    ],
    [
      ['--platform', 'linux/arm64', '--on-registry-error', 'retry'],
      'error: --on-registry-error: must be use-cache or fail, got "retry"',
    ],
    [
      ['--platform', 'linux/arm64', '--layer-compression', 'zstd'],
      'error: --layer-compression: must be keep or none, got "zstd"',
    ],
    [['--platform', 'linux/arm64', '--verify=yes'], 'error: --verify takes no value'],
    [['--platform', 'linux/arm64', '--archive'], 'error: --archive needs a value (FILE)'],
    [
      ['--platform', 'linux/arm64', '--report', '--json'],
      'error: --report needs a value (FILE), got the option --json',
    ],
    [['--platform', 'linux/arm64', 'extra'], 'error: unexpected argument "extra"'],
    [
      ['--platform', 'linux/arm64', '--cache', 'false'],
      'error: unknown option --cache: only the action has it (input cache)',
    ],
  ])('pull %j', async (more, line) => {
    const r = await run(...pull(...more));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toContain(line);
    expect(r.stderr).toContain('Usage: cache-images pull');
    expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
    expect(requests).toBe(0);
    expect(existsSync(join(work, 'layout'))).toBe(false);
  });

  test('required options are named', async () => {
    expect((await run('pull', '--image', 'a:1', '--layout', 'L')).stderr).toMatch(
      /^error: --platform is required/,
    );
    expect((await run('archive', '--archive', 'a.tar')).stderr).toMatch(/^error: --layout is required/);
    expect((await run('key', '--image', 'a:1')).code).toBe(2);
  });

  test('an unknown command gets the one probably meant', async () => {
    const r = await run('pul');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown command "pul" \(did you mean pull\?\)/);
  });
});

describe('help and version', () => {
  test('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await run('--version');
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  test.each(['list', 'pull', 'archive', 'key'])(
    'help CMD is CMD --help, generated from the table: %s',
    async (command) => {
      const a = await run('help', command);
      const b = await run(command, '--help');
      const c = await run(command, '-h');
      expect(a.code).toBe(0);
      expect(a.stdout).toBe(b.stdout);
      expect(a.stdout).toBe(c.stdout);
      expect(a.stdout).toMatch(new RegExp(`^Usage: cache-images ${command} `));
      expect(a.stdout).toContain('  -q, --quiet');
      expect(a.stdout).toContain('  -v, --verbose');
    },
  );

  test('pull --help lists the new options with their defaults', async () => {
    const { stdout } = await run('pull', '--help');
    for (const text of [
      '--offline',
      '(default use-cache)',
      '--lock-timeout TIME',
      '(default 10m)',
      '(default 30s)',
      '--json',
      '(default 8)',
    ]) {
      expect(stdout).toContain(text);
    }
  });

  test('help without a command and a bare call', async () => {
    expect((await run('help')).stdout).toMatch(/^Usage: cache-images <command>/);
    const bare = await run();
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: cache-images <command>/);
  });
});

describe('quiet and verbose', () => {
  // A registry answering 404: verbose shows each request, quiet only the error line.
  const failing = (...more: string[]) => pull('--platform', 'linux/arm64', ...more);

  test('-v prints each request as a debug line; -q prints the error only', async () => {
    const verbose = await run(...failing('-v'));
    expect(verbose.code).toBe(1);
    const answered = verbose.stderr
      .split('\n')
      .filter((l) => new RegExp(`^debug: [A-Z]+ http://${host}/v2/\\S* -> 404$`).test(l));
    expect(answered.length).toBe(requests);
    expect(requests).toBeGreaterThan(1);
    expect(verbose.stderr).toContain(`debug: HEAD http://${host}/v2/app/manifests/1 -> 404`);

    const quiet = await run(...failing('--quiet'));
    expect(quiet.code).toBe(1);
    expect(quiet.stderr.trim().split('\n')).toHaveLength(1);
    expect(quiet.stderr).toMatch(/^error: image /);
  });
});

describe('the pallet of the current folder', () => {
  test('pull without --pallet and --image outside a pallet is a usage error', async () => {
    const cwd = process.cwd();
    process.chdir(work);
    try {
      const r = await run('pull', '--platform', 'linux/arm64', '--layout', 'L');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error: nothing to pull: give --pallet DIR and\/or --image REF/);
    } finally {
      process.chdir(cwd);
    }
  });

  test('key without --pallet uses the pallet of the current folder', async () => {
    const cwd = process.cwd();
    process.chdir(join(cwd, '__tests__', 'fixtures', 'pallets', 'basic'));
    try {
      const here = await run('key', '--platform', 'linux/arm64');
      // Its images live on Docker Hub: offline, the error names its first image; online, a key.
      // Either proves the pallet was read (without one, this is the usage error above).
      expect(here.code === 1 ? here.stderr : here.stdout).toMatch(
        /^error: image alpine:3 \(registry docker\.io\)|^cache-images-linux-arm64-[0-9a-f]{32}\n$/m,
      );
    } finally {
      process.chdir(cwd);
    }
  });
});
