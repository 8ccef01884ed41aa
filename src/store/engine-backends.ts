import { join } from 'node:path';
import type { LayoutImage } from '../layout/layout-images.js';
import { Annotation } from '../oci/media-types.js';
import { UserError } from '../util/errors.js';
import { addDigestReferences } from './docker-digests.js';
import type { EngineSession } from './engine-session.js';
import { startContainerd } from './private-containerd.js';
import { DOCKER_STORAGE_DRIVER, startDockerd } from './private-dockerd.js';
import type { StoreEngine } from './store-types.js';

export interface LoadRequest {
  session: EngineSession;
  /** The engine's data folder inside the session (`<session>/rootfs/<device data root>`). */
  dataRoot: string;
  /** A docker-archive in keep mode: manifest.json for Docker, an OCI index for containerd. */
  archive: string;
  images: LayoutImage[];
  platform: string;
  namespace: string;
  timeoutMs: number;
  /** Told when the engine answers, so start-up and loading times show apart. */
  onReady: (version: string) => void;
}

export interface Loaded {
  engineVersion: string;
  /** What the engine lists each image as, in the order of `images`. */
  names: string[][];
}

/** What differs between engines: programs, store folders, and how images get in. */
export interface EngineBackend {
  engine: StoreEngine;
  /** Programs on PATH the build runs (beyond tar and umount). */
  tools: string[];
  storageDriver: string;
  /** Folders below the data root that hold the images (not networks, volumes or containers). */
  storePaths: string[];
  usesNamespace: boolean;
  load(request: LoadRequest): Promise<Loaded>;
  /** Completes the store once the engine is stopped; returns more names per image. */
  afterStop?(dataRoot: string, images: LayoutImage[]): Promise<string[][]>;
}

const docker: EngineBackend = {
  engine: 'docker',
  tools: ['dockerd', 'docker', 'containerd'],
  storageDriver: DOCKER_STORAGE_DRIVER,
  // The image and layer metadata, and the layers themselves.
  storePaths: [`image/${DOCKER_STORAGE_DRIVER}`, DOCKER_STORAGE_DRIVER],
  usesNamespace: false,
  async load(r) {
    const engine = await startDockerd(r.session, r.dataRoot);
    r.onReady(engine.version);
    await engine.docker(['load', '--quiet', '--input', r.archive], r.timeoutMs);
    const names: string[][] = [];
    for (const image of r.images) {
      const id = image.manifest.config.digest;
      // Docker's image ID is the config digest: the image is there exactly when this answers.
      const tags = await engine
        .docker(['image', 'inspect', '--format', '{{json .RepoTags}}', id])
        .catch(() => {
          throw new UserError(`docker load left out ${image.reference} (image ${id})`, {
            code: 'engine',
            image: image.reference,
          });
        });
      names.push(JSON.parse(tags) as string[]);
    }
    return { engineVersion: engine.version, names };
  },
  afterStop: (dataRoot, images) =>
    addDigestReferences(join(dataRoot, 'image', DOCKER_STORAGE_DRIVER), images),
};

/** `ctr images ls` rows as name -> target digest. */
function parseImageList(text: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [name, , digest] = line.trim().split(/\s+/);
    if (name && digest) rows.set(name, digest);
  }
  return rows;
}

const containerd: EngineBackend = {
  engine: 'containerd',
  tools: ['containerd', 'ctr'],
  storageDriver: 'overlayfs',
  storePaths: [
    'io.containerd.content.v1.content',
    'io.containerd.metadata.v1.bolt',
    'io.containerd.snapshotter.v1.overlayfs',
  ],
  usesNamespace: true,
  async load(r) {
    const engine = await startContainerd(r.session, r.dataRoot);
    r.onReady(engine.version);
    // The archive's index.json names the registry's top-level documents, so each image's
    // target is the pinned digest; --platform keeps only the layout's platform.
    await engine.ctr(
      r.namespace,
      ['images', 'import', '--platform', r.platform, '--snapshotter', 'overlayfs', r.archive],
      r.timeoutMs,
    );
    const listed = parseImageList(await engine.ctr(r.namespace, ['images', 'ls']));
    const names = r.images.map((image) => {
      const name = image.descriptor.annotations?.[Annotation.ContainerdImageName] ?? image.reference;
      const target = listed.get(name);
      if (target !== image.descriptor.digest) {
        throw new UserError(
          `ctr images import ${target ? `gave ${name} the target ${target}` : `left out ${name}`}, expected ${image.descriptor.digest}`,
          { code: 'engine', image: image.reference },
        );
      }
      return [name];
    });
    return { engineVersion: engine.version, names };
  },
};

export const BACKENDS: Record<StoreEngine, EngineBackend> = { docker, containerd };
