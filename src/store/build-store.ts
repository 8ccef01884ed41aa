import { rm } from 'node:fs/promises';
import { basename, isAbsolute, join, posix, resolve } from 'node:path';
import { writeDockerArchive } from '../archive/docker-archive.js';
import { readLayoutImages, type LayoutImage } from '../layout/layout-images.js';
import { LayoutStore } from '../layout/layout-store.js';
import { formatPlatform } from '../oci/platform.js';
import { UserError } from '../util/errors.js';
import { formatBytes, type Logger } from '../util/log.js';
import { BACKENDS, type EngineBackend } from './engine-backends.js';
import { EngineSession } from './engine-session.js';
import { requireRoot, requireTools } from './host-tools.js';
import { releaseMounts } from './mounts.js';
import { deviceRequirement, writeStoreManifest } from './store-manifest.js';
import { EXTRACT_COMMAND, writeStoreTarball } from './store-tarball.js';
import {
  DEFAULT_DATA_ROOT,
  DEFAULT_NAMESPACE,
  type StoreManifest,
  type StoreRequest,
} from './store-types.js';

/** containerd's rule for namespace names. */
const NAMESPACE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const GiB = 1024 ** 3;

interface Checked {
  backend: EngineBackend;
  namespace: string;
  dataRoot: string;
  output: string;
}

function checkRequest(request: StoreRequest): Checked {
  const backend = BACKENDS[request.engine];
  if (!backend) {
    throw new UserError(`unknown engine ${JSON.stringify(request.engine)}: docker or containerd`, {
      code: 'invalid-input',
      option: 'engine',
    });
  }
  if (request.namespace !== undefined && !backend.usesNamespace) {
    throw new UserError('a namespace applies to the containerd engine only', {
      code: 'invalid-input',
      option: 'namespace',
    });
  }
  const namespace = request.namespace ?? DEFAULT_NAMESPACE;
  if (!NAMESPACE.test(namespace)) {
    throw new UserError(`namespace ${JSON.stringify(namespace)} is not a valid containerd namespace`, {
      code: 'invalid-input',
      option: 'namespace',
    });
  }
  const dataRoot = posix.normalize(request.dataRoot ?? DEFAULT_DATA_ROOT[request.engine]).replace(/\/+$/, '');
  if (!isAbsolute(dataRoot) || dataRoot === '' || dataRoot === '/') {
    throw new UserError(`data root ${JSON.stringify(request.dataRoot)} must be an absolute folder below /`, {
      code: 'invalid-input',
      option: 'data-root',
    });
  }
  return { backend, namespace, dataRoot, output: resolve(request.output) };
}

/** The layout's images, which must all be of one platform (the store's). */
async function layoutImages(layoutDir: string): Promise<{ images: LayoutImage[]; platform: string }> {
  const images = await readLayoutImages(await LayoutStore.open(layoutDir, { create: false }));
  const first = images[0];
  if (!first) throw new UserError(`layout ${layoutDir} holds no images`, { code: 'layout', file: layoutDir });
  const platform = formatPlatform(first.platform);
  const other = images.find((i) => formatPlatform(i.platform) !== platform);
  if (other) {
    throw new UserError(
      `layout ${layoutDir} holds images of two platforms (${platform}, ${formatPlatform(other.platform)}); a store holds one`,
      { code: 'layout', file: layoutDir, image: other.reference },
    );
  }
  return { images, platform };
}

/** Time allowed for loading and for tar: generous, yet a hung engine cannot hold a job forever. */
function budgetMs(images: LayoutImage[]): number {
  const layers = new Map<string, number>();
  for (const i of images) for (const l of i.manifest.layers) layers.set(l.digest, l.size);
  const bytes = [...layers.values()].reduce((a, b) => a + b, 0);
  return 120_000 + Math.ceil((bytes / GiB) * 300_000);
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/**
 * Builds the device's image store on the build host: the layout's images are loaded by a
 * private engine of the host (dockerd or containerd, native speed, nothing executed), the
 * engine is stopped, and its image store is written as a tarball to extract into the OS
 * image's root file system, with a JSON manifest beside it. The engine is stopped and its
 * mounts released on every path, signals included; a failed run leaves no tarball.
 */
export async function buildImageStore(request: StoreRequest): Promise<StoreManifest> {
  const { backend, namespace, dataRoot, output } = checkRequest(request);
  const { logger } = request;
  requireRoot();
  await requireTools([...backend.tools, 'tar', 'umount']);
  const { images, platform } = await layoutImages(request.layoutDir);
  const timeoutMs = budgetMs(images);
  const session = await EngineSession.open(logger);
  try {
    const archive = join(session.dir, 'images.tar');
    await writeDockerArchive(await LayoutStore.open(request.layoutDir, { create: false }), images, archive, {
      layerCompression: 'keep',
      logger: backend.engine === 'docker' ? logger : quietWarnings(logger),
    });
    const rootfs = join(session.dir, 'rootfs');
    let started = Date.now();
    logger.info(`loading ${images.length} images (${platform}) into a private ${backend.engine}`);
    const loaded = await backend.load({
      session,
      dataRoot: join(rootfs, dataRoot),
      archive,
      images,
      platform,
      namespace,
      timeoutMs,
    });
    logger.info(`loaded in ${seconds(started)}; stopping ${backend.engine}`);
    started = Date.now();
    await session.stopDaemons();
    await rm(archive, { force: true });
    await releaseMounts(session.dir);
    logger.info(`stopped in ${seconds(started)}; writing ${output}`);
    started = Date.now();
    const size = await writeStoreTarball({
      rootfs,
      dataRoot,
      paths: backend.storePaths,
      output,
      timeoutMs,
      signal: session.signal,
      onTemporary: (tmp) => session.onClose(() => rm(tmp, { force: true })),
    });
    const manifest: StoreManifest = {
      engine: backend.engine,
      engineVersion: loaded.engineVersion,
      storageDriver: backend.storageDriver,
      ...(backend.usesNamespace ? { namespace } : {}),
      dataRoot,
      platform,
      images: images.map((image, n) => ({
        reference: image.reference,
        digest: image.descriptor.digest,
        platformDigest: image.manifestDigest,
        imageId: image.manifest.config.digest,
        names: loaded.names[n] ?? [],
      })),
      tarball: basename(output),
      size,
      extract: `${EXTRACT_COMMAND} ${basename(output)} -C /`,
    };
    await writeStoreManifest(output, manifest).catch(async (err: unknown) => {
      await rm(output, { force: true });
      throw err;
    });
    logger.info(`wrote ${output} (${formatBytes(size)}) in ${seconds(started)}`);
    logger.warn(deviceRequirement(manifest));
    return manifest;
  } finally {
    await session.close();
  }
}

/** The archive is only a vehicle here: its warnings about Docker's classic store do not apply. */
function quietWarnings(logger: Logger): Logger {
  return { ...logger, warn: (m) => logger.debug(m) };
}
