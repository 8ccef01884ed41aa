import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { startDaemon, type Daemon } from './daemon.js';
import type { EngineSession } from './engine-session.js';
import { runTool } from './host-tools.js';

export interface PrivateContainerd {
  daemon: Daemon;
  socket: string;
  /** The server's version, as `ctr version` reports it. */
  version: string;
  /** Runs `ctr` against this containerd in `namespace`; returns stdout. */
  ctr(namespace: string, args: string[], timeoutMs?: number): Promise<string>;
}

/** TOML basic strings take JSON's escapes. */
const toml = (s: string) => JSON.stringify(s);

/**
 * Starts containerd with its content store and snapshots under `root`, its state, socket and
 * /opt under the session folder, and no CRI plugin (no Kubernetes, no networking).
 */
export async function startContainerd(session: EngineSession, root: string): Promise<PrivateContainerd> {
  const socket = join(session.dir, 'ctd.sock');
  const config = join(session.dir, 'containerd.toml');
  await mkdir(root, { recursive: true });
  await writeFile(
    config,
    [
      'version = 2',
      `root = ${toml(root)}`,
      `state = ${toml(join(session.dir, 'ctd-state'))}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = ${toml(socket)}`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${toml(join(session.dir, 'ctd-opt'))}`,
      '',
    ].join('\n'),
  );
  const ctr = (namespace: string, args: string[], timeoutMs = 30_000) =>
    runTool('ctr', ['-a', socket, '-n', namespace, ...args], { timeoutMs, signal: session.signal });
  const daemon = await startDaemon({
    name: 'containerd',
    command: 'containerd',
    args: ['--config', config],
    logFile: join(session.dir, 'containerd.log'),
    ready: async () => (await ctr('default', ['version'], 5_000)).includes('Server:'),
    readyTimeoutMs: 60_000,
    onSpawn: (d) => session.adopt(d),
    signal: session.signal,
  });
  const version = /Server:[\s\S]*?Version:\s*(\S+)/.exec(await ctr('default', ['version']))?.[1];
  if (!version)
    throw new UserError('containerd did not report its version (ctr version)', { code: 'engine' });
  return { daemon, socket, version, ctr };
}
