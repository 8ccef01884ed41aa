import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { tail } from './host-tools.js';

/** A Go-quoted log field; Go escapes JSON lacks (\\x..) are left as they are. */
function unquote(value: string): string {
  try {
    return JSON.parse(value) as string;
  } catch {
    return value.slice(1, -1);
  }
}

/**
 * The line of an engine's log that says what went wrong: the last error or fatal entry
 * (logrus `msg` and `error` fields), or a bare line such as dockerd's "failed to start
 * daemon: ...". Falls back to the last lines.
 */
export function engineComplaint(log: string): string {
  const lines = log.split('\n').filter((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    const level = /\blevel=(\w+)/.exec(line)?.[1];
    if (level === undefined) return line.trim();
    if (level === 'error' || level === 'fatal') {
      const field = (name: string) => {
        const value = new RegExp(` ${name}=("(?:[^"\\\\]|\\\\.)*"|\\S+)`).exec(line)?.[1];
        return value?.startsWith('"') ? unquote(value) : value;
      };
      return [field('msg'), field('error')].filter(Boolean).join(': ');
    }
  }
  return tail(log);
}

export interface DaemonSpec {
  /** What the user knows it as: dockerd, containerd. */
  name: string;
  command: string;
  args: string[];
  /** The daemon's stdout and stderr go here, never into our memory. */
  logFile: string;
  /** Resolves true once the daemon answers. */
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
  /** Called as soon as the process exists, so an interrupt during start-up stops it too. */
  onSpawn?: (daemon: Daemon) => void;
  /** Gives up waiting when aborted. */
  signal?: AbortSignal;
}

/** A long-running engine process we started and must stop. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** The last lines of its log, for error messages. */
  logTail(): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Starts a daemon in its own process group (a Ctrl-C reaches us first, and we stop it in
 * order) and waits until it answers. A daemon that exits or stays silent is stopped and
 * reported with its log's last lines.
 */
export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  const log = openSync(spec.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.command, spec.args, { stdio: ['ignore', log, log], detached: true });
  } finally {
    closeSync(log);
  }
  const gone = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const logTail = async () => engineComplaint(await readFile(spec.logFile, 'utf8').catch(() => ''));
  const daemon: Daemon = {
    name: spec.name,
    pid: child.pid ?? -1,
    logTail,
    stop: async (graceMs) => {
      if (exited(child) || spawnError) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
  spec.onSpawn?.(daemon);
  const deadline = Date.now() + spec.readyTimeoutMs;
  for (;;) {
    if (spec.signal?.aborted)
      throw new UserError(`${spec.name}: interrupted while starting`, { code: 'engine' });
    if (spawnError || exited(child)) {
      const why = spawnError?.message ?? (await logTail());
      throw new UserError(`${spec.name} stopped while starting: ${why}`, { code: 'engine' });
    }
    if (await spec.ready().catch(() => false)) return daemon;
    if (Date.now() > deadline) {
      await daemon.stop(5_000);
      throw new UserError(
        `${spec.name} did not answer within ${Math.round(spec.readyTimeoutMs / 1000)} s: ${await logTail()}`,
        { code: 'engine' },
      );
    }
    await sleep(50);
  }
}
