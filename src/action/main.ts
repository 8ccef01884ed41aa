import * as core from '@actions/core';
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { actionsCacheBackend } from '../cache/actions-cache.js';
import { formatPlatform, platformSlug } from '../oci/platform.js';
import { runPullJob, type JobState, type PullJobResult } from '../pipeline/job.js';
import { summarizeFailure, summarizeRun } from '../pipeline/summary.js';
import { CredentialStore } from '../registry/credentials.js';
import { actionSetting } from '../options/index.js';
import { UserError, advisedMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { readInputs, type ActionInputs } from './inputs.js';
import { storeBuilder } from './store-builder.js';
import { writeSummary } from './summary.js';

const logger: Logger = {
  info: (m) => core.info(m),
  warn: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  secret: (s) => core.setSecret(s),
};

/** The action: inputs in, the shared pull job, outputs, a job summary and annotations out. */
export async function run(): Promise<void> {
  const state: JobState = { phases: [] };
  let inputs: ActionInputs | undefined;
  try {
    inputs = readInputs();
    const result = await runPullJob(
      {
        ...inputs,
        credentials: credentials(inputs.githubToken),
        logger,
        cache: inputs.cache ? actionsCacheBackend() : undefined,
        buildStore: storeBuilder(logger),
        phase: (name, work) => core.group(name, work),
      },
      state,
    );
    setOutputs(result, inputs);
    await writeSummary(summarizeRun(result.report, result.pallet));
  } catch (err) {
    const message = advisedMessage(err, actionSetting);
    annotate(err, message);
    if (inputs) await writeSummary(summarizeFailure(state, formatPlatform(inputs.platform), message));
  }
}

/** Only ghcr.io gets the workflow's token, and only when docker's config has nothing for it. */
function credentials(githubToken: string | undefined): CredentialStore {
  const store = new CredentialStore();
  if (githubToken) {
    core.setSecret(githubToken);
    store.setFallback('ghcr.io', {
      username: process.env.GITHUB_ACTOR || 'github-actions',
      password: githubToken,
    });
  }
  return store;
}

function setOutputs({ report }: PullJobResult, inputs: ActionInputs): void {
  core.setOutput('cache-hit', String(report.cache?.hit === 'exact'));
  core.setOutput('cache-key', report.cache?.key ?? '');
  core.setOutput('cache-matched-key', report.cache?.matchedKey ?? '');
  core.setOutput('layout-path', report.layout);
  core.setOutput('archive-path', inputs.archive ? resolve(inputs.archive) : '');
  core.setOutput('archives', JSON.stringify(report.archives.map((a) => a.path)));
  core.setOutput('platform-slug', platformSlug(inputs.platform));
  core.setOutput('report-path', inputs.reportFile ? resolve(inputs.reportFile) : '');
  core.setOutput(
    'images',
    JSON.stringify(
      report.images.map((i) => ({
        reference: i.reference,
        digest: i.digest,
        platformDigest: i.platformDigest,
        size: i.size,
        ...(i.stale ? { stale: true } : {}),
      })),
    ),
  );
  core.setOutput('changes', JSON.stringify(report.changes));
  core.setOutput('downloaded-bytes', String(report.totals.downloadedBytes));
  core.setOutput('image-store-path', report.imageStore?.path ?? '');
}

/**
 * One annotation per mistake: a pallet mistake on its file and line (pallet errors name files
 * relative to the pallet; annotations want them relative to the workspace).
 */
function annotate(err: unknown, message: string): void {
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  const palletDir = resolve(workspace, core.getInput('pallet') || '.');
  // A remote pallet's files are not in the workspace: the message names them instead.
  if (err instanceof UserError && err.code === 'pallet' && err.file && existsSync(palletDir)) {
    const file = relative(workspace, resolve(palletDir, err.file));
    // setFailed would add a second annotation without the file: fail by exit code instead.
    process.exitCode = core.ExitCode.Failure;
    core.error(message, { file, startLine: err.line, title: 'cache-images' });
    return;
  }
  core.setFailed(message);
}
