import * as core from '@actions/core';
import { formatPlatform } from '../oci/platform.js';
import { runPullJob } from '../pipeline/job.js';
import { UserError, errorMessage } from '../util/errors.js';
import { formatBytes, type Logger } from '../util/log.js';
import { readInputs } from './inputs.js';

const actionsLogger: Logger = {
  info: (m) => core.info(m),
  warn: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  secret: (s) => core.setSecret(s),
};

/** The action: inputs in, the shared pull job, outputs and a summary out. */
export async function run(): Promise<void> {
  try {
    const inputs = readInputs();
    const { report } = await core.group(`Pull images for ${formatPlatform(inputs.platform)}`, () =>
      runPullJob({ ...inputs, logger: actionsLogger }),
    );
    core.setOutput('layout-path', inputs.layoutDir);
    core.setOutput('archive-path', inputs.archive ?? '');
    core.setOutput(
      'images',
      JSON.stringify(
        report.images.map((i) => ({
          reference: i.reference,
          digest: i.digest,
          platformDigest: i.platformDigest,
          size: i.size,
        })),
      ),
    );
    core.setOutput('downloaded-bytes', String(report.totals.downloadedBytes));
    await core.summary
      .addHeading('cache-images', 3)
      .addTable([
        [
          { data: 'image', header: true },
          { data: 'platform', header: true },
          { data: 'digest', header: true },
          { data: 'size', header: true },
          { data: 'from', header: true },
        ],
        ...report.images.map((i) => [
          i.reference,
          i.platform,
          `\`${i.platformDigest}\``,
          formatBytes(i.size),
          i.source,
        ]),
      ])
      .addRaw(
        `${report.totals.images} images, ${formatBytes(report.totals.size)}; downloaded ${formatBytes(report.totals.downloadedBytes)}`,
        true,
      )
      .write();
  } catch (err) {
    const message = errorMessage(err);
    if (err instanceof UserError && err.file) {
      core.error(err.message, { file: err.file, startLine: err.line });
      core.setFailed(message);
    } else {
      core.setFailed(message);
    }
  }
}
