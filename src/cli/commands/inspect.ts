import { archiveFiles, layoutFiles } from '../../inspect/image-files.js';
import { inspectImages } from '../../inspect/inspect-images.js';
import { inspectionJson, inspectionTable } from '../../inspect/inspect-report.js';
import { verifyImages } from '../../inspect/verify-images.js';
import { UsageError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { commandHelp, parseCommandLine } from '../../options/index.js';

export const inspectHelp = commandHelp(
  'inspect',
  `Lists the images inside a docker-archive (written by cache-images, 'docker save' or skopeo) or
an OCI image layout: reference, digest, image ID, platform, size and layers. Give --archive or
--layout.`,
);

export async function inspectCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommandLine('inspect', args);
  if (v.help) {
    process.stdout.write(inspectHelp);
    return 0;
  }
  if (!v.archive === !v.layout) throw new UsageError('give either --archive FILE or --layout DIR');
  const files = v.archive ? await archiveFiles(v.archive) : await layoutFiles(v.layout as string);
  const inspection = await inspectImages(files);
  let verified: number | undefined;
  if (v.verify) {
    verified = await verifyImages(files, inspection);
    logger.info(
      `verified ${verified} blobs of ${inspection.images.length} images: every one matches its digest`,
    );
  }
  if (v.json) process.stdout.write(`${JSON.stringify(inspectionJson(inspection, verified), null, 2)}\n`);
  else process.stdout.write(inspectionTable(inspection.images));
  return 0;
}
