import { buildImageStore, storeManifestPath } from '../../store/index.js';
import { STORE_ENGINES } from '../../store/store-types.js';
import { UsageError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { oneOf, parseCommand } from '../options.js';

export const storeHelp = `Usage: cache-images store --layout DIR --engine docker|containerd [--namespace NS] [--data-root DIR]
                          --output FILE

Builds the device's image store on this machine instead of running 'docker load' in the
emulated OS build: a private dockerd or containerd of this machine (no emulation, nothing is
run) loads the layout's images, is stopped, and its store is written as a tarball to extract
into the OS image's root file system, engine stopped:
  tar --xattrs --xattrs-include='*' --numeric-owner -xpf FILE -C /
FILE.json describes it (engine, version, storage driver, namespace, platform, images). Needs
root, and the engine's Debian/Ubuntu package (docker.io, containerd). The platform is the
layout's.

  --layout DIR       the OCI image layout filled by 'cache-images pull' (required)
  --engine E         docker: Docker's classic store (overlay2), under /var/lib/docker;
                     containerd: containerd's content store and overlayfs snapshots, under
                     /var/lib/containerd (Docker 29's containerd image store, k3s, containerd)
  --namespace NS     containerd namespace: moby (default, Docker 29), k8s.io (k3s, Kubernetes)
  --data-root DIR    the engine's data folder on the device, when not the default
                     (k3s: /var/lib/rancher/k3s/agent/containerd)
  --output FILE      the tarball to write (required)
`;

export async function storeCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommand(args, {
    layout: { type: 'string' },
    engine: { type: 'string' },
    namespace: { type: 'string' },
    'data-root': { type: 'string' },
    output: { type: 'string' },
  });
  if (v.help) {
    process.stdout.write(storeHelp);
    return 0;
  }
  if (!v.layout) throw new UsageError('--layout is required');
  if (!v.engine) throw new UsageError('--engine is required: docker or containerd');
  if (!v.output) throw new UsageError('--output is required');
  const manifest = await buildImageStore({
    layoutDir: v.layout,
    engine: oneOf(v.engine, 'engine', STORE_ENGINES, 'docker'),
    namespace: v.namespace,
    dataRoot: v['data-root'],
    output: v.output,
    logger,
  });
  logger.info(
    `${manifest.images.length} images in a ${manifest.engine} ${manifest.engineVersion} store (${manifest.storageDriver}${manifest.namespace ? `, namespace ${manifest.namespace}` : ''}); manifest ${storeManifestPath(v.output)}`,
  );
  return 0;
}
