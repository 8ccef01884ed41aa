import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, waitFor, type Started } from './processes.js';

export interface DockerEngine {
  env: { DOCKER_HOST: string };
  docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** Runs a command, resolving with its exit code and output (never rejecting on a non-zero exit). */
export function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 127
        : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}

/**
 * A real Docker engine (Debian's dockerd, vfs storage, no networking) on a private socket,
 * for checking what `docker load` makes of our archives.
 */
export async function startDockerEngine(): Promise<DockerEngine> {
  // Unix socket paths are short; keep the whole tree under a short temp name.
  const dir = mkdtempSync(join(tmpdir(), 'dk-'));
  const socket = join(dir, 'd.sock');
  const proc: Started = startProcess('dockerd', [
    '--storage-driver=vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'pid')}`,
    '-H',
    `unix://${socket}`,
  ]);
  const env = { DOCKER_HOST: `unix://${socket}` };
  const docker = (args: string[]) => run('docker', args, { ...process.env, ...env });
  await waitFor(
    'dockerd',
    async () => (await docker(['version', '--format', '{{.Server.Version}}'])).code === 0,
    30_000,
    proc.output,
  );
  return { env, docker, stop: () => proc.stop() };
}
