import * as core from '@actions/core';
import { relative, resolve } from 'node:path';
import { formatPlatform } from '../oci/platform.js';
import { runPullJob, type PullJobResult } from '../pipeline/job.js';
import { CredentialStore } from '../registry/credentials.js';
import { UserError, advisedMessage } from '../util/errors.js';
import { formatBytes, type Logger } from '../util/log.js';
import { readInputs } from './inputs.js';
import { actionsLayoutCache } from './layout-cache.js';

const logger: Logger = {
  info: (m) => core.info(m),
  warn: (m) => core.warning(m),
  debug: (m) => core.debug(m),
  secret: (s) => core.setSecret(s),
};

/** The action: inputs in, the shared pull job, outputs and a job summary out. */
export async function run(): Promise<void> {
  try {
    const inputs = readInputs();
    const credentials = new CredentialStore();
    if (inputs.githubToken) {
      core.setSecret(inputs.githubToken);
      // Only ghcr.io gets the workflow's token, and only when docker config has nothing for it.
      credentials.setFallback('ghcr.io', {
        username: process.env.GITHUB_ACTOR || 'github-actions',
        password: inputs.githubToken,
      });
    }
    const result = await runPullJob({
      ...inputs,
      credentials,
      logger,
      cache: inputs.cache ? actionsLayoutCache(logger) : undefined,
      phase: (name, work) => core.group(name, work),
    });
    const { report } = result;
    core.setOutput('cache-hit', String(report.cache?.hit === 'exact'));
    core.setOutput('cache-key', report.cache?.key ?? '');
    core.setOutput('layout-path', report.layout);
    core.setOutput('archive-path', inputs.archive ? resolve(inputs.archive) : '');
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
    await writeSummary(result, formatPlatform(inputs.platform));
  } catch (err) {
    if (err instanceof UserError && err.file) {
      // An annotation on the pallet file and line that is wrong; pallet errors name files
      // relative to the pallet, annotations want them relative to the workspace.
      const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
      const file = relative(workspace, resolve(workspace, core.getInput('pallet') || '.', err.file));
      core.error(err.message, { file, startLine: err.line, title: 'cache-images' });
      core.setFailed(advisedMessage(err, actionSetting));
    } else {
      core.setFailed(advisedMessage(err, actionSetting));
    }
  }
}

async function writeSummary({ report, pallet }: PullJobResult, platform: string): Promise<void> {
  const requiredBy = (reference: string) =>
    [
      ...new Set(pallet.find((p) => p.reference === reference)?.requiredBy.map((r) => r.deployment) ?? []),
    ].join(', ') || '(extra image)';
  const summary = core.summary
    .addHeading(`cache-images: ${report.images.length} images for ${platform}`, 3)
    .addTable([
      [
        { data: 'image', header: true },
        { data: 'platform', header: true },
        { data: 'digest', header: true },
        { data: 'size', header: true },
        { data: 'from', header: true },
        { data: 'required by', header: true },
      ],
      ...report.images.map((i) => [
        i.reference,
        i.platform,
        `<code>${i.platformDigest}</code>`,
        formatBytes(i.size),
        i.source === 'layout'
          ? report.cache?.hit === 'exact' || report.cache?.hit === 'prefix'
            ? 'cache'
            : 'layout'
          : 'registry',
        requiredBy(i.reference),
      ]),
    ]);
  const t = report.totals;
  summary.addRaw(
    `<p>${formatBytes(t.size)} in all; downloaded ${formatBytes(t.downloadedBytes)} (${t.blobsFromRegistry} blobs), ` +
      `reused ${t.blobsFromLayout} blobs.</p>`,
    true,
  );
  if (report.cache) {
    const hit = {
      exact: 'hit',
      prefix: `restored from ${report.cache.matchedKey}`,
      miss: 'miss',
      unavailable: 'unavailable',
    }[report.cache.hit];
    summary.addRaw(
      `<p>Cache key <code>${report.cache.key}</code>: ${hit}${report.cache.saved ? ', saved' : ''}.</p>`,
      true,
    );
  }
  for (const a of report.archives)
    summary.addRaw(`<p>Archive <code>${a.path}</code>: ${formatBytes(a.size)}</p>`, true);
  const untagged = report.images.filter((i) => !/:[^/@]+(@|$)/.test(i.reference.replace(/^[^/]*\//, '')));
  if (untagged.length && report.archives.length) {
    summary.addRaw(
      `<p>Loaded untagged by Docker's classic image store (digest-only references): ${untagged
        .map((i) => `<code>${i.reference}</code>`)
        .join(', ')}. Pin them as <code>name:tag@sha256:...</code> to load them by name.</p>`,
      true,
    );
  }
  await summary.write();
}

/** The action's input for each CLI option that advice may name. */
const INPUT_OF: Record<string, string> = {
  'ca-file': 'ca-files',
  'insecure-registry': 'insecure-registries',
  mirror: 'registry-mirrors',
  layout: 'layout-path',
};

/** Action advice names inputs, never CLI flags. */
export const actionSetting = (option: string) => `input ${INPUT_OF[option] ?? option}`;
