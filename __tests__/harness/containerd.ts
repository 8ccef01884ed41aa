import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './docker-engine.js';
import { startProcess, waitFor } from './processes.js';

export interface Containerd {
  ctr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** A standalone containerd (no CRI) on a private socket, for `ctr images import`. */
export async function startContainerd(): Promise<Containerd> {
  const dir = mkdtempSync(join(tmpdir(), 'ctd-'));
  const socket = join(dir, 'c.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
    ].join('\n'),
  );
  const proc = startProcess('containerd', ['-c', config]);
  const ctr = (args: string[]) => run('ctr', ['-a', socket, '-n', 'test', ...args]);
  await waitFor('containerd', async () => (await ctr(['version'])).code === 0, 15_000, proc.output);
  return { ctr, stop: () => proc.stop() };
}
