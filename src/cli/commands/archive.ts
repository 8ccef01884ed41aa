import { commandHelp, defaulted, parseCommandLine } from '../../options/index.js';
import { LayoutLock } from '../../layout/layout-lock.js';
import { writeArchives } from '../../pipeline/archives.js';
import { prepareOutputs } from '../../pipeline/outputs.js';
import { UsageError, UserError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';

export const archiveHelp = commandHelp(
  'archive',
  `Writes docker-archives ('docker load' format, also readable as an OCI archive) from an OCI
image layout filled by 'cache-images pull', without contacting any registry.`,
);

export async function archiveCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommandLine('archive', args);
  if (v.help) {
    process.stdout.write(archiveHelp);
    return 0;
  }
  if (!v.archive && !v['archive-dir']) throw new UsageError('give --archive FILE and/or --archive-dir DIR');
  const layoutDir = v.layout as string;
  // Nothing to download first: the archive writer names a path it cannot write as it goes.
  await prepareOutputs(
    layoutDir,
    { archive: v.archive, archiveDir: v['archive-dir'] },
    { checkWritable: false },
  );
  const lock = await readerLock(layoutDir, v['lock-timeout'], logger);
  try {
    await writeArchives({
      layoutDir,
      archive: v.archive,
      archiveDir: v['archive-dir'],
      layerCompression: defaulted(v['layer-compression'], 'layer-compression'),
      logger,
    });
  } finally {
    await lock?.release();
  }
  return 0;
}

/**
 * Held while reading, so that a pull on the same layout cannot remove blobs being archived. A
 * reader that may not write beside the layout (another user's) reads it unlocked.
 */
async function readerLock(layoutDir: string, timeoutMs: number | undefined, logger: Logger) {
  try {
    return await LayoutLock.acquire(layoutDir, { timeoutMs, logger });
  } catch (err) {
    if (!(err instanceof UserError) || err.code !== 'file-system') throw err;
    logger.debug(`reading ${layoutDir} without a lock: ${err.message}`);
    return undefined;
  }
}
