import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './docker-engine.js';
import { startProcess, waitFor } from './processes.js';

type Run = (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

export interface DeviceEngine {
  /** Runs the engine's client (docker or ctr) against it. */
  client: Run;
  stop(): Promise<void>;
}

/**
 * Starts dockerd on an extracted store as the device would: overlay2, data-root inside the
 * extracted root file system, its own supervised containerd, no networking.
 */
export async function startDeviceDocker(rootfs: string, dataRoot = '/var/lib/docker'): Promise<DeviceEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'dev-dk-'));
  const socket = join(dir, 'd.sock');
  writeFileSync(join(dir, 'daemon.json'), '{}');
  const proc = startProcess('dockerd', [
    `--config-file=${join(dir, 'daemon.json')}`,
    '--storage-driver=overlay2',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    `--data-root=${join(rootfs, dataRoot)}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'pid')}`,
    '-H',
    `unix://${socket}`,
  ]);
  const client: Run = (args) => run('docker', ['-H', `unix://${socket}`, ...args]);
  await waitFor('device dockerd', async () => (await client(['version'])).code === 0, 60_000, proc.output);
  return {
    client,
    stop: async () => {
      await proc.stop();
      if (mountsBelow(dir).length === 0) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts containerd on an extracted store as the device would (its root inside `rootfs`);
 * the client takes ctr's global options first (`-n NAMESPACE`).
 */
export async function startDeviceContainerd(
  rootfs: string,
  root = '/var/lib/containerd',
): Promise<DeviceEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'dev-ctd-'));
  const socket = join(dir, 'c.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${join(rootfs, root)}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(dir, 'opt')}"`,
    ].join('\n'),
  );
  const proc = startProcess('containerd', ['--config', config]);
  const client: Run = (args) => run('ctr', ['-a', socket, ...args]);
  await waitFor('device containerd', async () => (await client(['version'])).code === 0, 30_000, proc.output);
  return {
    client,
    stop: async () => {
      await proc.stop();
      if (mountsBelow(dir).length === 0) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Mount points at or below `dir` (none must be left after a build). */
export function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** Processes whose command line mentions `text` (an engine started with paths below a folder). */
export function processesMentioning(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-a', '-f', text], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l && !l.includes('pgrep'));
  } catch {
    return [];
  }
}
