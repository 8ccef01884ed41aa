import { commandHelp, defaulted, parseCommandLine } from '../../options/index.js';
import { writeArchives } from '../../pipeline/archives.js';
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
  await writeArchives({
    layoutDir: v.layout as string,
    archive: v.archive,
    archiveDir: v['archive-dir'],
    layerCompression: defaulted(v['layer-compression'], 'layer-compression'),
    logger,
  });
  return 0;
}
