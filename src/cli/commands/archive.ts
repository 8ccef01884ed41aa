import { commandHelp, defaulted, parseCommandLine } from '../../options/index.js';
import { LayoutLock } from '../../layout/layout-lock.js';
import { writeArchives } from '../../pipeline/archives.js';
import { prepareOutputs } from '../../pipeline/outputs.js';
import { UsageError } from '../../util/errors.js';
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
  await prepareOutputs(layoutDir, { archive: v.archive, archiveDir: v['archive-dir'] });
  // Held while reading: a pull on the same layout would remove blobs being archived.
  const lock = await LayoutLock.acquire(layoutDir, { timeoutMs: v['lock-timeout'], logger });
  try {
    await writeArchives({
      layoutDir,
      archive: v.archive,
      archiveDir: v['archive-dir'],
      layerCompression: defaulted(v['layer-compression'], 'layer-compression'),
      logger,
    });
  } finally {
    await lock.release();
  }
  return 0;
}
