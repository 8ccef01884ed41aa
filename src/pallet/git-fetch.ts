import { execFile } from 'node:child_process';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../util/errors.js';
import { isDirectory } from './file-tree.js';

const run = promisify(execFile);

export async function git(args: string[], cwd?: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd,
    // Never wait for a password prompt: a CI job would hang instead of failing.
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: process.env.GIT_ASKPASS ?? '', ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/**
 * The last lines git wrote to stderr, for one-line messages. A URL rewritten by insteadOf may
 * carry a token (https://x-access-token:TOKEN@host/), and git can echo it: it never reaches a log.
 */
export function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const text = (e.stderr || e.message || String(err)).trim();
  return text
    .split('\n')
    .filter(Boolean)
    .slice(-2)
    .join(' / ')
    .replace(/(\w+:\/\/)[^/@\s]+@/g, '$1***@');
}

/**
 * Checks out one commit of `url` into `dest` with the `git` command, so the user's git
 * configuration applies (insteadOf rewrites, credential helpers, proxies). Asks the server for
 * the commit alone first; servers that refuse unadvertised commits get a full fetch instead.
 * The checkout appears at `dest` atomically, so an interrupted run leaves no half folder.
 */
export async function fetchCommit(
  url: string,
  commit: string,
  dest: string,
  lockFile: string | undefined,
): Promise<void> {
  const fix = lockFile ? 'fix the commit in this lock or push it' : 'push it or name another version';
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    await git(['init', '-q', tmp]);
    try {
      await git(['fetch', '-q', '--depth', '1', url, commit], tmp);
    } catch (first) {
      try {
        await git(
          ['fetch', '-q', url, '+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*'],
          tmp,
        );
      } catch (second) {
        throw new UserError(
          `could not fetch ${url}: ${stderrOf(second) || stderrOf(first)}; check the path, your network and git credentials (url.<base>.insteadOf can point it elsewhere)`,
          { file: lockFile },
        );
      }
    }
    try {
      await git(['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', commit], tmp);
    } catch (err) {
      throw new UserError(`commit ${commit} is not in ${url} (${stderrOf(err)}); ${fix}`, { file: lockFile });
    }
    const head = (await git(['rev-parse', 'HEAD'], tmp)).trim();
    if (head !== commit)
      throw new UserError(`${url} gave commit ${head}, not ${commit}; ${fix}`, { file: lockFile });
    if (await isDirectory(dest)) return; // another run got there first
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
