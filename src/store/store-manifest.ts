import { writeFileAtomic } from '../util/fs.js';
import type { StoreManifest } from './store-types.js';

/** The manifest's path: beside the tarball, same name plus `.json`. */
export function storeManifestPath(output: string): string {
  return `${output}.json`;
}

export async function writeStoreManifest(output: string, manifest: StoreManifest): Promise<string> {
  const path = storeManifestPath(output);
  await writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}

/**
 * What the device's engine must be for the tarball to be readable there, and the command
 * that shows it: an engine ignores a store of another kind (its images are simply missing).
 */
export function deviceRequirement(m: StoreManifest): string {
  const conditions =
    'extract it while the engine is stopped, into an OS image whose engine holds no images yet (the image metadata is replaced)';
  if (m.engine === 'docker') {
    return `the device's Docker must use the classic image store with the ${m.storageDriver} storage driver and data-root ${m.dataRoot}: 'docker info' must show "Storage Driver: ${m.storageDriver}" without "driver-type: io.containerd.snapshotter.v1" (Docker 29 defaults to the containerd store: set "features": {"containerd-snapshotter": false} in /etc/docker/daemon.json) and "Docker Root Dir: ${m.dataRoot}"; ${conditions}`;
  }
  const who =
    m.namespace === 'moby'
      ? `Docker's containerd image store ('docker info' must show "driver-type: io.containerd.snapshotter.v1" and "Storage Driver: ${m.storageDriver}")`
      : `a containerd reading namespace ${m.namespace ?? ''} ('ctr -n ${m.namespace ?? ''} images ls' lists them)`;
  return `the device must run ${who}, with containerd's root at ${m.dataRoot} ('containerd config dump' shows root = "${m.dataRoot}") and the ${m.storageDriver} snapshotter; ${conditions}`;
}
