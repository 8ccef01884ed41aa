import * as core from '@actions/core';
import { join } from 'node:path';
import type { Platform } from '../oci/documents.js';
import { hostPlatform, parsePlatform } from '../oci/platform.js';
import type { PullJobOptions } from '../pipeline/job.js';
import { parseMirrors } from '../registry/mirrors.js';
import { UserError } from '../util/errors.js';

/** The job's options as the action's inputs give them, plus what only the action decides. */
export type ActionInputs = Pick<
  PullJobOptions,
  | 'pallet'
  | 'images'
  | 'includeDisabled'
  | 'platform'
  | 'layoutDir'
  | 'archive'
  | 'archiveDir'
  | 'layerCompression'
  | 'concurrency'
  | 'insecureRegistries'
  | 'mirrors'
  | 'cacheKeyPrefix'
> & {
  /** Whether to use the Actions cache (the job takes the cache itself, not a flag). */
  cache: boolean;
  githubToken?: string;
};

function lines(name: string): string[] {
  return core
    .getInput(name)
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads and checks the action's inputs; a bad value names the input. */
export function readInputs(): ActionInputs {
  const platformText = core.getInput('platform');
  let platform: Platform;
  try {
    platform = platformText ? parsePlatform(platformText) : hostPlatform();
  } catch (err) {
    throw new UserError(`input platform: ${(err as Error).message}`);
  }
  const concurrencyText = core.getInput('concurrency') || '8';
  if (!/^\d+$/.test(concurrencyText) || Number(concurrencyText) < 1) {
    throw new UserError(
      `input concurrency must be a positive integer, got ${JSON.stringify(concurrencyText)}`,
    );
  }
  const compression = core.getInput('layer-compression') || 'keep';
  if (compression !== 'keep')
    throw new UserError(`input layer-compression must be keep, got ${JSON.stringify(compression)}`);
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  const temp = process.env.RUNNER_TEMP || join(workspace, '.cache-images');
  return {
    pallet: core.getInput('pallet') || undefined,
    images: lines('images'),
    includeDisabled: core.getBooleanInput('include-disabled'),
    platform,
    layoutDir: core.getInput('layout-path') || join(temp, 'cache-images', 'layout'),
    archive: core.getInput('archive') || undefined,
    archiveDir: core.getInput('archive-dir') || undefined,
    layerCompression: compression,
    concurrency: Number(concurrencyText),
    insecureRegistries: lines('insecure-registries'),
    mirrors: parseMirrors(lines('registry-mirrors'), (m) => new UserError(`input registry-mirrors ${m}`)),
    cache: core.getBooleanInput('cache'),
    cacheKeyPrefix: cacheKeyPrefix(core.getInput('cache-key-prefix') || 'cache-images'),
    githubToken: core.getInput('github-token') || undefined,
  };
}

/** Cache keys may not hold commas and stay short; the prefix also names upload-safe files. */
function cacheKeyPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(prefix)) {
    throw new UserError(
      `input cache-key-prefix must be 1 to 100 letters, digits, dots, dashes or underscores, got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}
