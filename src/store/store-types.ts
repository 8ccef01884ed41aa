import type { Logger } from '../util/log.js';

/** The device's engine: Docker's classic store (overlay2) or containerd's (overlayfs snapshots). */
export type StoreEngine = 'docker' | 'containerd';

export const STORE_ENGINES: readonly StoreEngine[] = ['docker', 'containerd'];

/** Where each engine keeps its data on the device, unless told otherwise. */
export const DEFAULT_DATA_ROOT: Record<StoreEngine, string> = {
  docker: '/var/lib/docker',
  containerd: '/var/lib/containerd',
};

/** Docker 29's containerd image store uses this namespace; k3s and Kubernetes use k8s.io. */
export const DEFAULT_NAMESPACE = 'moby';

export interface StoreRequest {
  /** A complete OCI layout (one platform), as `cache-images pull` leaves it. */
  layoutDir: string;
  engine: StoreEngine;
  /** containerd namespace (containerd engine only). */
  namespace?: string;
  /** The engine's data folder on the device (default /var/lib/docker or /var/lib/containerd). */
  dataRoot?: string;
  /** The tarball to write; its manifest goes beside it (see `storeManifestPath`). */
  output: string;
  logger: Logger;
}

export interface StoreImage {
  /** The reference as the pallet wrote it. */
  reference: string;
  /** The top-level document's digest (index or manifest), as pinned. */
  digest: string;
  /** The platform manifest's digest. */
  platformDigest: string;
  /** The config digest: Docker's image ID. */
  imageId: string;
  /** What the engine lists the image as (Docker's RepoTags; containerd's image names). */
  names: string[];
}

/** Written beside the tarball as JSON; the action prints it in the job summary. */
export interface StoreManifest {
  engine: StoreEngine;
  engineVersion: string;
  /** overlay2 (Docker's storage driver) or overlayfs (containerd's snapshotter). */
  storageDriver: string;
  /** containerd namespace; absent for Docker's classic store. */
  namespace?: string;
  /** The engine's data folder on the device; the tarball's paths are below it. */
  dataRoot: string;
  platform: string;
  images: StoreImage[];
  /** The tarball's file name and size in bytes. */
  tarball: string;
  size: number;
  /** How to extract it into the OS image's root file system. */
  extract: string;
}
