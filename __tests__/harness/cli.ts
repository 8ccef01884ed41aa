import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');
export const CLI = join(root, 'dist', 'cli', 'index.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the committed CLI bundle, as users run it. */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd = root,
  node = process.execPath,
): Promise<CliRun> {
  return new Promise((resolvePromise) => {
    execFile(
      node,
      [CLI, ...args],
      { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: number }).code : 0;
        resolvePromise({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** The `error:` lines of a run's stderr: a failure must print exactly one. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error:'));
}
