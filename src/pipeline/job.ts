import { resolve } from 'node:path';
import type { LayerCompression } from '../archive/docker-archive.js';
import { saveLayout, shouldSave, type CacheBackend, type CacheMode } from '../cache/index.js';
import { LayoutLock } from '../layout/layout-lock.js';
import { LayoutSource } from '../layout/layout-source.js';
import { LayoutStore } from '../layout/layout-store.js';
import type { Platform } from '../oci/documents.js';
import { describePallet, type RequiredImage } from '../pallet/index.js';
import { parseReference } from '../references/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { registryClientFrom } from '../registry/from-options.js';
import type { CredentialStore } from '../registry/credentials.js';
import { RegistrySource } from '../registry/registry-source.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Logger } from '../util/log.js';
import { ArchivesWhilePulling, writeArchives, type ArchiveRequest, type WrittenArchive } from './archives.js';
import type { LayoutImage } from '../layout/layout-images.js';
import { heldImages, layoutChanges, type LayoutChanges } from './changes.js';
import { oneFailure } from './failures.js';
import { selectImages, type ImageSelection, type SelectedImages } from './images.js';
import { prepareOutputs } from './outputs.js';
import { pullImages, type PullReport } from './pull.js';
import { restoreFromCache, type CacheOutcome } from './restore.js';
import { imageStoreStage, type StoreBuilder, type StoreOptions, type StoreOutcome } from './store-stage.js';

export type { CacheOutcome };

export interface PullJobOptions extends ImageSelection {
  platform: Platform;
  layoutDir: string;
  archive?: string;
  archiveDir?: string;
  layerCompression: LayerCompression;
  concurrency: number;
  verify?: boolean;
  insecureRegistries: string[];
  mirrors?: Record<string, string[]>;
  caFiles?: string[];
  reportFile?: string;
  credentials?: CredentialStore;
  /** Keep the layout between runs in this cache, keyed by the digest set. */
  cache?: CacheBackend;
  cacheKeyPrefix?: string;
  /** `restore-only` restores but never saves (forks' pull requests, jobs that must not evict others). */
  cacheMode?: CacheMode;
  /** Fail when no layout was restored at all (as actions/cache's fail-on-cache-miss). */
  failOnCacheMiss?: boolean;
  /** A tag whose registry fails: `use-cache` takes the digest the cached layout recorded; `fail` fails. */
  onRegistryError?: 'use-cache' | 'fail';
  /** Use only the layout; never contact a registry. */
  offline?: boolean;
  /** How long to wait for another process holding the layout (default 10 min). */
  lockTimeoutMs?: number;
  /** A response body idle this long aborts the attempt (default 30 s). */
  idleTimeoutMs?: number;
  /** Also build the device's image store from the layout. */
  imageStore?: StoreOptions;
  /** How the store is built (the action runs it as root); default in this process. */
  buildStore?: StoreBuilder;
  logger: Logger;
  /** Runs each phase; the action wraps them in log groups. */
  phase?: <T>(name: string, work: () => Promise<T>) => Promise<T>;
}

export interface PhaseTime {
  name: string;
  /** When it started, in ms since the job started (overlapping phases share time). */
  startMs: number;
  ms: number;
}

export interface JobReport extends PullReport {
  /** The pallet read: its folder, or `path@version (commit)` for a remote one. */
  pallet?: string;
  archives: WrittenArchive[];
  cache?: CacheOutcome;
  /** What changed against the layout as it was before the pull (the restored cache). */
  changes: LayoutChanges;
  /** The device's image store, when asked for. */
  imageStore?: StoreOutcome;
  phases: PhaseTime[];
}

export interface PullJobResult {
  report: JobReport;
  /** What the pallet says of each of its images: where each is required. */
  pallet: RequiredImage[];
}

/** What a job knew when it stopped, for a summary of a failed run. */
export interface JobState {
  /** The pallet read: its folder, or `path@version (commit)`. */
  source?: string;
  references?: string[];
  pallet?: RequiredImage[];
  cache?: CacheOutcome;
  phases: PhaseTime[];
  /** Date.now() when the job started. */
  started?: number;
}

/**
 * The main job, shared by the CLI's `pull` and the action: the pallet's images plus extra
 * ones; with a cache, the digest set's key and a restore; the pull for one platform into the
 * layout; then the docker-archives, written while the layout is saved to the cache.
 */
export async function runPullJob(
  options: PullJobOptions,
  state: JobState = { phases: [] },
): Promise<PullJobResult> {
  const { logger } = options;
  state.started ??= Date.now();
  const phase = timedPhases(options.phase, state);
  const layoutDir = resolve(options.layoutDir);
  const selected = await phase('Resolve the image list', async () => {
    const s = await selectImages({ ...options, warn: options.warn ?? ((m) => logger.warn(m)) });
    logImageList(s, logger);
    return s;
  });
  const { references, pallet } = selected;
  const source = selected.source && describePallet(selected.source);
  Object.assign(state, { references, pallet, source });
  await prepareOutputs(layoutDir, { ...options, imageStore: options.imageStore?.output });
  const lock = await LayoutLock.acquire(layoutDir, { timeoutMs: options.lockTimeoutMs, logger });
  const client = registryClientFrom({ ...options, logger });
  try {
    const restored = await restoreStage(options, references, client, layoutDir, phase);
    state.cache = restored.cache;
    const before = await heldImages(layoutDir, options.platform);
    const { pulled, archives } = await pullAndArchive(
      options,
      references,
      { layoutDir, client, restored },
      phase,
      state,
    );
    const changes = layoutChanges(
      before,
      pulled.images.map((i) => ({ reference: i.reference, digest: i.digest, size: i.size })),
    );
    const imageStore = await storeStage(options, layoutDir, pulled, phase);
    const report: JobReport = {
      ...(source ? { pallet: source } : {}),
      ...pulled,
      archives,
      ...(imageStore ? { imageStore } : {}),
      ...(restored.cache ? { cache: restored.cache } : {}),
      changes,
      phases: state.phases,
    };
    if (options.reportFile)
      await writeFileAtomic(resolve(options.reportFile), `${JSON.stringify(report, null, 2)}\n`);
    return { report, pallet };
  } catch (err) {
    throw withRequirements(err, pallet);
  } finally {
    await client.close();
    await lock.release();
  }
}

type Phase = <T>(name: string, work: () => Promise<T>) => Promise<T>;

/**
 * The pull, and the archives: written while their blobs download when they can be (see
 * ArchivesWhilePulling), else from the finished layout; either way finished while the layout
 * is saved to the cache.
 */
async function pullAndArchive(
  options: PullJobOptions,
  references: string[],
  {
    layoutDir,
    client,
    restored,
  }: { layoutDir: string; client: RegistryClient; restored: Awaited<ReturnType<typeof restoreStage>> },
  phase: Phase,
  state: JobState,
): Promise<{ pulled: PullReport; archives: WrittenArchive[] }> {
  const request = archiveRequest(options, layoutDir);
  let whilePulling: ArchivesWhilePulling | undefined;
  const mirror =
    request && ArchivesWhilePulling.suits(request)
      ? async (images: LayoutImage[], downloadBytes: number) => {
          whilePulling = await ArchivesWhilePulling.start(request, images, downloadBytes);
          return whilePulling?.mirrorFor.bind(whilePulling);
        }
      : undefined;
  try {
    const pulled = await phase('Pull images', () =>
      pullImages(references, {
        platform: options.platform,
        layoutDir,
        client,
        logger: options.logger,
        concurrency: options.concurrency,
        verify: options.verify,
        offline: options.offline,
        resolved: restored.resolved,
        stale: restored.stale,
        mirror,
      }),
    );
    const write = whilePulling
      ? () => (whilePulling as ArchivesWhilePulling).finish()
      : request && (() => writeArchives(request));
    const archives = await finishStage(
      options,
      layoutDir,
      restored.cache,
      phase,
      timedPhases(undefined, state),
      write,
    );
    return { pulled, archives };
  } catch (err) {
    await whilePulling?.abort();
    throw err;
  }
}

/** What the job asks of the archives, if anything. */
function archiveRequest(options: PullJobOptions, layoutDir: string): ArchiveRequest | undefined {
  if (!options.archive && !options.archiveDir) return undefined;
  return {
    layoutDir,
    archive: options.archive,
    archiveDir: options.archiveDir,
    layerCompression: options.layerCompression,
    logger: options.logger,
  };
}

/** Each phase through the caller's wrapper (log groups), timed into `state.phases`. */
function timedPhases(wrap: Phase | undefined, state: JobState): Phase {
  return async (name, work) => {
    const started = Date.now();
    try {
      return await (wrap ? wrap(name, work) : work());
    } finally {
      const startMs = started - (state.started ?? started);
      state.phases.push({ name, startMs, ms: Date.now() - started });
    }
  };
}

/** The digests to pull: from the cache stage, from the layout (offline), or left to the pull. */
async function restoreStage(
  options: PullJobOptions,
  references: string[],
  client: RegistryClient,
  layoutDir: string,
  phase: Phase,
): Promise<{ cache?: CacheOutcome; resolved?: Map<string, string>; stale?: Set<string> }> {
  if (options.offline) return { resolved: await digestsOffline(references, layoutDir, options.logger) };
  const backend = options.cache;
  if (!backend) return {};
  return phase('Restore the layout from the cache', () =>
    restoreFromCache({
      references,
      source: new RegistrySource(client),
      backend,
      layoutDir,
      platform: options.platform,
      prefix: options.cacheKeyPrefix,
      concurrency: options.concurrency,
      onRegistryError: options.onRegistryError ?? 'use-cache',
      failOnCacheMiss: options.failOnCacheMiss ?? false,
      logger: options.logger,
    }),
  );
}

/** The device's image store, when asked for: restored from the cache or built. */
async function storeStage(options: PullJobOptions, layoutDir: string, pulled: PullReport, phase: Phase) {
  const store = options.imageStore;
  if (!store) return undefined;
  return phase('Build the image store', () =>
    imageStoreStage({
      store,
      layoutDir,
      images: pulled.images,
      platform: options.platform,
      prefix: options.cacheKeyPrefix,
      backend: options.cache,
      build: options.buildStore,
      logger: options.logger,
    }),
  );
}

/** `--offline`: every tag's digest as the layout recorded it. */
async function digestsOffline(references: string[], layoutDir: string, logger: Logger) {
  const source = new LayoutSource(await LayoutStore.open(layoutDir, { create: false }));
  const resolved = new Map<string, string>();
  const failures: unknown[] = [];
  for (const reference of references) {
    try {
      resolved.set(reference, (await source.resolve(parseReference(reference))).digest);
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length) throw oneFailure(failures, logger);
  return resolved;
}

/**
 * The archives, and the cache save: both only read the layout, which no longer changes, so
 * they run at the same time (the save is mostly an upload).
 */
async function finishStage(
  options: PullJobOptions,
  layoutDir: string,
  cache: CacheOutcome | undefined,
  phase: Phase,
  timed: Phase,
  archive: (() => Promise<WrittenArchive[]>) | undefined,
): Promise<WrittenArchive[]> {
  const { logger } = options;
  const backend = options.cache;
  const save =
    backend && cache && shouldSave(cache.hit, options.cacheMode)
      ? async () => {
          const { saved } = await saveLayout(backend, {
            layoutDir,
            key: cache.key,
            hit: cache.hit,
            mode: options.cacheMode,
            logger,
          });
          cache.saved = saved;
        }
      : undefined;
  if (save && archive) {
    // One log group for both (groups cannot interleave); each is timed on its own.
    const group = options.phase ?? ((_name, work) => work());
    const [archives] = await group('Write archives and save the layout to the cache', () =>
      Promise.all([timed('Write archives', archive), timed('Save the layout to the cache', save)]),
    );
    return archives;
  }
  if (save) await phase('Save the layout to the cache', save);
  return archive ? phase('Write archives', archive) : [];
}

/** The image-list log: every reference and what requires it, before anything is pulled. */
function logImageList({ references, pallet }: SelectedImages, logger: Logger): void {
  const count = references.length;
  if (count === 0) {
    logger.warn('no images to pull: the pallet requires none and no extra image was given');
    return;
  }
  logger.info(`${count} ${count === 1 ? 'image' : 'images'}:`);
  for (const reference of references) {
    const required = pallet.find((p) => p.reference === reference)?.requiredBy ?? [];
    const where = [...new Set(required.map((r) => `${r.deployment} (${r.file})`))].join(', ');
    logger.info(`  ${reference}  <- ${where || 'extra image'}`);
  }
}

/** A registry error about a pallet image also says which deployments need that image. */
function withRequirements(err: unknown, pallet: RequiredImage[]): unknown {
  if (!(err instanceof UserError) || !err.image) return err;
  const required = pallet.find((i) => i.reference === err.image);
  if (!required?.requiredBy.length) return err;
  const where = [...new Set(required.requiredBy.map((r) => `${r.deployment} (${r.file})`))].join(', ');
  return err.with({}, `${err.message} [required by deployment ${where}]`);
}
