import { writeArchives } from '../../pipeline/archives.js';
import { UsageError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { oneOf, parseCommand } from '../options.js';

export const archiveHelp = `Usage: cache-images archive --layout DIR [--archive FILE] [--archive-dir DIR] [--layer-compression keep|none]

Writes docker-archives ('docker load' format, also readable as an OCI archive) from an OCI
image layout filled by 'cache-images pull', without contacting any registry.

  --layout DIR              the OCI image layout (required)
  --archive FILE            one archive holding every image of the layout
  --archive-dir DIR         one archive per image
  --layer-compression C     keep (default) or none (decompressed layers, checked against diff_ids)
`;

export async function archiveCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommand(args, {
    layout: { type: 'string' },
    archive: { type: 'string' },
    'archive-dir': { type: 'string' },
    'layer-compression': { type: 'string' },
  });
  if (v.help) {
    process.stdout.write(archiveHelp);
    return 0;
  }
  if (!v.layout) throw new UsageError('--layout is required');
  if (!v.archive && !v['archive-dir']) throw new UsageError('give --archive FILE and/or --archive-dir DIR');
  await writeArchives({
    layoutDir: v.layout,
    archive: v.archive,
    archiveDir: v['archive-dir'],
    layerCompression: oneOf(v['layer-compression'], 'layer-compression', ['keep', 'none'] as const, 'keep'),
    logger,
  });
  return 0;
}
