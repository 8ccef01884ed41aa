import { rm } from 'node:fs/promises';
import { basename, isAbsolute, join, posix, resolve } from 'node:path';
import { writeDockerArchive } from '../archive/docker-archive.js';
import { readLayoutImages, type LayoutImage } from '../layout/layout-images.js';
import { LayoutStore } from '../layout/layout-store.js';
import { formatPlatform } from '../oci/platform.js';
import { UserError } from '../util/errors.js';
import { formatBytes, type Logger } from '../util/log.js';
import { BACKENDS, type EngineBackend, type Loaded } from './engine-backends.js';
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

/** Seconds since the last call (or creation), for the log's phase times. */
function stopwatch(): () => string {
  let since = Date.now();
  return () => {
    const text = `${((Date.now() - since) / 1000).toFixed(1)} s`;
    since = Date.now();
    return text;
  };
}

interface Plan extends Checked {
  layoutDir: string;
  images: LayoutImage[];
  platform: string;
  timeoutMs: number;
  logger: Logger;
}

/** Loads the images into a private engine in `<session>/rootfs` and stops it. */
async function loadAndStop(plan: Plan, session: EngineSession): Promise<{ rootfs: string; loaded: Loaded }> {
  const { backend, logger, images, platform } = plan;
  const archive = join(session.dir, 'images.tar');
  await writeDockerArchive(await LayoutStore.open(plan.layoutDir, { create: false }), images, archive, {
    layerCompression: 'keep',
    logger: quietWarnings(logger),
  });
  const rootfs = join(session.dir, 'rootfs');
  const lap = stopwatch();
  logger.info(`starting a private ${backend.engine} for ${images.length} images (${platform})`);
  const loaded = await backend.load({
    session,
    dataRoot: join(rootfs, plan.dataRoot),
    archive,
    images,
    platform,
    namespace: plan.namespace,
    timeoutMs: plan.timeoutMs,
    onReady: (version) => logger.info(`${backend.engine} ${version} ready in ${lap()}; loading`),
  });
  logger.info(`loaded in ${lap()}; stopping ${backend.engine}`);
  await session.stopDaemons();
  await rm(archive, { force: true });
  await releaseMounts(session.dir);
  logger.info(`stopped in ${lap()}`);
  const more = (await backend.afterStop?.(join(rootfs, plan.dataRoot), images)) ?? [];
  const names = loaded.names.map((n, i) => [...n, ...(more[i] ?? [])]);
  return { rootfs, loaded: { ...loaded, names } };
}

function describeStore(plan: Plan, loaded: Loaded, size: number): StoreManifest {
  const { backend, output } = plan;
  return {
    engine: backend.engine,
    engineVersion: loaded.engineVersion,
    storageDriver: backend.storageDriver,
    ...(backend.usesNamespace ? { namespace: plan.namespace } : {}),
    dataRoot: plan.dataRoot,
    platform: plan.platform,
    images: plan.images.map((image, n) => ({
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
}

/**
 * Builds the device's image store on the build host: the layout's images are loaded by a
 * private engine of the host (dockerd or containerd, native speed, nothing executed), the
 * engine is stopped, and its image store is written as a tarball to extract into the OS
 * image's root file system, with a JSON manifest beside it. The engine is stopped and its
 * mounts released on every path, signals included; a failed run leaves no tarball.
 */
export async function buildImageStore(request: StoreRequest): Promise<StoreManifest> {
  const checked = checkRequest(request);
  const { logger } = request;
  requireRoot();
  await requireTools([...checked.backend.tools, 'tar', 'umount']);
  const { images, platform } = await layoutImages(request.layoutDir);
  const plan: Plan = {
    ...checked,
    layoutDir: request.layoutDir,
    images,
    platform,
    timeoutMs: budgetMs(images),
    logger,
  };
  const session = await EngineSession.open(logger);
  try {
    const { rootfs, loaded } = await loadAndStop(plan, session);
    const lap = stopwatch();
    const size = await writeStoreTarball({
      rootfs,
      dataRoot: plan.dataRoot,
      paths: plan.backend.storePaths,
      output: plan.output,
      timeoutMs: plan.timeoutMs,
      signal: session.signal,
      onTemporary: (tmp) => session.onClose(() => rm(tmp, { force: true })),
    });
    const manifest = describeStore(plan, loaded, size);
    await writeStoreManifest(plan.output, manifest).catch(async (err: unknown) => {
      await rm(plan.output, { force: true });
      throw err;
    });
    logger.info(`wrote ${plan.output} (${formatBytes(size)}) in ${lap()}`);
    logger.warn(deviceRequirement(manifest));
    return manifest;
  } finally {
    await session.close();
  }
}

/**
 * The archive is only a vehicle here: its warnings do not apply (an untagged image is still
 * found by its digest in the store; a layer the engine cannot read fails the load, quoted).
 */
function quietWarnings(logger: Logger): Logger {
  return { ...logger, warn: (m) => logger.debug(m) };
}
