import { commandHelp, parseCommandLine, pullJobSettings } from '../../options/index.js';
import type { Platform } from '../../oci/documents.js';
import { runPullJob } from '../../pipeline/job.js';
import { UsageError } from '../../util/errors.js';
import { formatBytes, type Logger } from '../../util/log.js';

export const pullHelp = commandHelp(
  'pull',
  `Downloads every image of the pallet (and each --image) for one platform into an OCI image
layout, reusing the blobs the layout already holds, then writes docker-archives. Without
--pallet, the current folder's pallet is used when it holds forklift-pallet.yml.

Registry credentials are read from docker's config.json ($DOCKER_CONFIG or ~/.docker), as
written by 'docker login'.`,
);

export async function pullCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommandLine('pull', args);
  if (v.help) {
    process.stdout.write(pullHelp);
    return 0;
  }
  const settings = pullJobSettings(v, { platform: v.platform as Platform, layoutDir: v.layout as string });
  if (!settings.pallet && !settings.images?.length)
    throw new UsageError(
      'nothing to pull: give --pallet DIR and/or --image REF (no forklift-pallet.yml here)',
    );
  const { report } = await runPullJob({ ...settings, logger });
  const t = report.totals;
  logger.info(
    `${t.images} images for ${report.platform}, ${formatBytes(t.size)}; downloaded ${formatBytes(t.downloadedBytes)} ` +
      `(${t.blobsFromRegistry} blobs), reused ${t.blobsFromLayout} blobs from the layout`,
  );
  if (v.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
