import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { uniqueArchiveFileNames } from '../archive/archive-names.js';
import { keepEntries, planEntries, plannedSize, type PlannedEntry } from '../archive/archive-plan.js';
import { warnZstd, writeDockerArchive, type LayerCompression } from '../archive/docker-archive.js';
import { PlacedArchive } from '../archive/placed-archive.js';
import { syncLayoutReader } from '../archive/sync-layout-reader.js';
import { fileWriteError } from '../archive/file-errors.js';
import { readLayoutImages, type LayoutImage } from '../layout/layout-images.js';
import { LayoutStore, type BlobMirror } from '../layout/layout-store.js';
import { checkRoom } from '../util/fs.js';
import { formatBytes, silentLogger, type Logger } from '../util/log.js';

export interface ArchiveRequest {
  layoutDir: string;
  /** One archive holding every image. */
  archive?: string;
  /** A directory receiving one archive per image. */
  archiveDir?: string;
  layerCompression: LayerCompression;
  logger: Logger;
}

export interface WrittenArchive {
  path: string;
  size: number;
  references: string[];
}

/** One archive file to write and the images it holds. */
interface ArchiveTarget {
  path: string;
  images: LayoutImage[];
  /** The one `archive` of every image (its log line counts them), not one of `archiveDir`'s. */
  whole: boolean;
}

/**
 * Archives written while their blobs download are worth it for a handful of files; beyond
 * this many, each download would fan out to too many open files, and they are written after.
 */
const MAX_ARCHIVES_WHILE_PULLING = 64;

/** Writes the requested docker-archives from a complete layout. */
export async function writeArchives(request: ArchiveRequest): Promise<WrittenArchive[]> {
  const store = await LayoutStore.open(request.layoutDir, { create: false });
  const images = await readLayoutImages(syncLayoutReader(store));
  const options = { layerCompression: request.layerCompression, logger: request.logger };
  const targets = await archiveTargets(images, request);
  // Decompressed archives' sizes are not known before the layers are read.
  if (request.layerCompression === 'keep') await checkRoomFor(targets.map((t) => [t, keepPlan(t)]));
  const written: WrittenArchive[] = [];
  for (const target of targets) {
    const { size } = await writeDockerArchive(store, target.images, target.path, options);
    written.push(wrote(target, size, request.logger));
  }
  return written;
}

/**
 * The requested archives written while the pull downloads their blobs, so the bytes are
 * written to the archive as they arrive instead of copied from the layout afterwards: each
 * archive is laid out from the resolved images at once, every download also writes its bytes
 * into each archive holding that blob, and `finish` copies in the rest (documents, blobs the
 * layout had) and renames. Only for archives of the registry's bytes (`layer-compression:
 * keep`): decompressed layers' sizes are not known before they are read.
 */
export class ArchivesWhilePulling {
  private constructor(
    private readonly request: ArchiveRequest,
    private readonly targets: { target: ArchiveTarget; archive: PlacedArchive }[],
  ) {}

  /** Whether `request` can be written while pulling. */
  static suits(request: ArchiveRequest): boolean {
    return request.layerCompression === 'keep' && Boolean(request.archive || request.archiveDir);
  }

  /**
   * Lays out every archive of `images`, once their file systems are known to have room for
   * them and for the `downloadBytes` the layout is about to receive; undefined when there are
   * too many archives to write at once.
   */
  static async start(
    request: ArchiveRequest,
    images: LayoutImage[],
    downloadBytes: number,
  ): Promise<ArchivesWhilePulling | undefined> {
    const targets = await archiveTargets(images, request);
    if (targets.length > MAX_ARCHIVES_WHILE_PULLING) return undefined;
    const plans = targets.map((t): [ArchiveTarget, PlannedEntry[]] => {
      warnZstd(t.images, request.logger);
      return [t, keepPlan(t, request.logger)];
    });
    await checkRoomFor(plans, { dir: request.layoutDir, bytes: downloadBytes });
    const placed: { target: ArchiveTarget; archive: PlacedArchive }[] = [];
    try {
      for (const [target, plan] of plans) {
        placed.push({ target, archive: await PlacedArchive.create(target.path, plan) });
      }
    } catch (err) {
      await Promise.all(placed.map((p) => p.archive.abort()));
      throw err;
    }
    return new ArchivesWhilePulling(request, placed);
  }

  /** Where a downloaded blob's bytes go besides the layout: every archive holding it. */
  mirrorFor(desc: { digest: string; size: number }): BlobMirror | undefined {
    const holding = this.targets.map((t) => t.archive).filter((a) => a.holds(desc));
    if (!holding.length) return undefined;
    return {
      // Never fails: an archive keeps its own failure for finish (see PlacedArchive.write).
      write: async (chunks, offset) => {
        await Promise.all(holding.map((a) => a.write(desc.digest, chunks, offset)));
      },
      complete: () => holding.forEach((a) => a.filled(desc.digest)),
    };
  }

  /** Copies in what no download brought and makes every archive visible. */
  async finish(): Promise<WrittenArchive[]> {
    const store = await LayoutStore.open(this.request.layoutDir, { create: false });
    const written: WrittenArchive[] = [];
    try {
      for (const { target, archive } of this.targets) {
        written.push(wrote(target, await archive.finish(store), this.request.logger));
      }
      return written;
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Removes every archive not finished yet. */
  async abort(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.archive.abort()));
  }
}

/** Which archive files hold which images, their folders made. */
async function archiveTargets(images: LayoutImage[], request: ArchiveRequest): Promise<ArchiveTarget[]> {
  const targets: ArchiveTarget[] = [];
  if (request.archive) {
    const path = resolve(request.archive);
    await makeFolder(dirname(path), path, 'archive');
    targets.push({ path, images, whole: true });
  }
  if (request.archiveDir) {
    const dir = resolve(request.archiveDir);
    await makeFolder(dir, dir, 'archive folder');
    // Its warnings are said per archive, when each is planned.
    const entries = planEntries(images, silentLogger);
    const names = uniqueArchiveFileNames(
      entries.map(({ images: [first] }) => ({
        reference: (first as LayoutImage).reference,
        digest: (first as LayoutImage).manifestDigest,
      })),
    );
    for (const [i, entry] of entries.entries()) {
      targets.push({ path: join(dir, names[i] as string), images: entry.images, whole: false });
    }
  }
  return targets;
}

/** The entries of a target's archive of the registry's bytes; silent unless given a logger for its warnings. */
function keepPlan(target: ArchiveTarget, logger: Logger = silentLogger): PlannedEntry[] {
  return keepEntries(target.images, planEntries(target.images, logger));
}

/**
 * Before a byte is written: each file system holding archives has room for all of them, and
 * for `layout.bytes` still to download when the layout is on it too, so a run fails at once
 * instead of when the disk is full.
 */
async function checkRoomFor(
  plans: [ArchiveTarget, PlannedEntry[]][],
  layout?: { dir: string; bytes: number },
) {
  const devices = new Map<number, { dir: string; file: string; archives: number }>();
  for (const [target, plan] of plans) {
    const dir = dirname(target.path);
    const { dev } = await stat(dir);
    const device = devices.get(dev) ?? { dir, file: target.path, archives: 0 };
    device.archives += plannedSize(plan);
    devices.set(dev, device);
  }
  const layoutDev = layout?.bytes ? (await stat(layout.dir)).dev : undefined;
  for (const [dev, { dir, file, archives }] of devices) {
    const layers = dev === layoutDev ? (layout?.bytes ?? 0) : 0;
    const parts = layers
      ? `archives ${formatBytes(archives)}, layers to download into the layout ${formatBytes(layers)}`
      : 'archives';
    await checkRoom(dir, archives + layers, file, parts);
  }
}

/** Says an archive is written, and what it holds. */
function wrote(target: ArchiveTarget, size: number, logger: Logger): WrittenArchive {
  const count = target.whole ? `${target.images.length} images, ` : '';
  logger.info(`wrote ${target.path} (${count}${formatBytes(size)})`);
  return { path: target.path, size, references: target.images.map((i) => i.reference) };
}

/** Creates `dir`; a failure is one line naming `path`, what the user asked for. */
async function makeFolder(dir: string, path: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw fileWriteError(err, path, what);
  }
}
