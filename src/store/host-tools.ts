import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { UserError } from '../util/errors.js';

/** The Debian/Ubuntu package that installs each program the store needs. */
const PACKAGES: Record<string, string> = {
  dockerd: 'docker.io',
  docker: 'docker.io',
  containerd: 'containerd',
  ctr: 'containerd',
  tar: 'tar',
  umount: 'mount',
};

/** The absolute path of `program` on PATH, or undefined. */
export async function findOnPath(
  program: string,
  path = process.env.PATH ?? '',
): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, program);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

/** Fails with one line naming the package to install when a program is missing. */
export async function requireTools(programs: string[]): Promise<void> {
  for (const program of programs) {
    if (await findOnPath(program)) continue;
    const pkg = PACKAGES[program] ?? program;
    throw new UserError(
      `${program} was not found on PATH: install the Debian/Ubuntu package ${pkg} (sudo apt-get install -y ${pkg})`,
      { code: 'missing-tool' },
    );
  }
}

/**
 * Building a store mounts file systems, creates device files (overlay whiteouts) and writes
 * trusted.* extended attributes: all need root.
 */
export function requireRoot(uid = process.getuid?.()): void {
  if (uid === undefined || uid === 0) return;
  throw new UserError(
    `building an image store needs root (mounts, whiteout device files, trusted.* extended attributes); running as uid ${uid}`,
    { code: 'needs-root' },
  );
}

export interface ToolRun {
  timeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/** The last non-empty lines of a program's output, on one line, for an error message. */
export function tail(text: string, lines = 3): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' | ');
}

/**
 * Runs a short-lived program (a client of the engine, tar) and returns its stdout. A failure,
 * a timeout or an abort is an `engine` error quoting the program's last words.
 */
export function runTool(command: string, args: string[], options: ToolRun): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        signal: options.signal,
        env: options.env ?? process.env,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const why = options.signal?.aborted
          ? 'interrupted'
          : (err as { killed?: boolean }).killed
            ? `no answer within ${Math.round(options.timeoutMs / 1000)} s`
            : tail(stderr || stdout) || err.message;
        reject(new UserError(`${command} ${args.join(' ')} failed: ${why}`, { code: 'engine', cause: err }));
      },
    );
  });
}
