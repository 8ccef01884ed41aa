import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { startDaemon, type Daemon } from './daemon.js';
import type { EngineSession } from './engine-session.js';
import { runTool } from './host-tools.js';
import { startContainerd } from './private-containerd.js';

export const DOCKER_STORAGE_DRIVER = 'overlay2';

export interface PrivateDockerd {
  daemon: Daemon;
  version: string;
  storageDriver: string;
  /** Runs the docker client against this engine; returns stdout. */
  docker(args: string[], timeoutMs?: number): Promise<string>;
}

/**
 * Starts dockerd with its data-root at `dataRoot`, storage driver overlay2, no networking, a
 * configuration file of its own (the host's /etc/docker/daemon.json may name another data-root
 * or driver) and a containerd of its own: left alone, dockerd would use the host's containerd
 * whenever /run/containerd/containerd.sock exists, as on GitHub's runners.
 */
export async function startDockerd(session: EngineSession, dataRoot: string): Promise<PrivateDockerd> {
  const containerd = await startContainerd(session, join(session.dir, 'dockerd-containerd'));
  const socket = join(session.dir, 'docker.sock');
  const configFile = join(session.dir, 'daemon.json');
  // Docker 29 would otherwise keep images in containerd, not in the classic store asked for.
  await writeFile(configFile, `${JSON.stringify({ features: { 'containerd-snapshotter': false } })}\n`);
  await mkdir(dataRoot, { recursive: true });
  const docker = (args: string[], timeoutMs = 30_000) =>
    runTool('docker', ['-H', `unix://${socket}`, ...args], { timeoutMs, signal: session.signal });
  const daemon = await startDaemon({
    name: 'dockerd',
    command: 'dockerd',
    args: [
      `--config-file=${configFile}`,
      `--storage-driver=${DOCKER_STORAGE_DRIVER}`,
      `--data-root=${dataRoot}`,
      `--exec-root=${join(session.dir, 'exec')}`,
      `--pidfile=${join(session.dir, 'docker.pid')}`,
      `--containerd=${containerd.socket}`,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '-H',
      `unix://${socket}`,
    ],
    logFile: join(session.dir, 'dockerd.log'),
    ready: async () => Boolean((await docker(['version', '--format', '{{.Server.Version}}'], 5_000)).trim()),
    readyTimeoutMs: 60_000,
    onSpawn: (d) => session.adopt(d),
    signal: session.signal,
  });
  const version = (await docker(['version', '--format', '{{.Server.Version}}'])).trim();
  const storageDriver = (await docker(['info', '--format', '{{.Driver}}'])).trim();
  if (storageDriver !== DOCKER_STORAGE_DRIVER) {
    throw new UserError(
      `dockerd runs the ${storageDriver} storage driver instead of ${DOCKER_STORAGE_DRIVER}: ${await daemon.logTail()}`,
      { code: 'engine' },
    );
  }
  return { daemon, version, storageDriver, docker };
}
