import * as core from '@actions/core';
import { join } from 'node:path';
import { hostPlatform } from '../oci/platform.js';
import {
  actionInputs,
  defaulted,
  definition,
  pullJobSettings,
  readValues,
  type JobSettings,
  type OptionValues,
  type RawValues,
} from '../options/index.js';
import { UserError } from '../util/errors.js';

/** The job's options as the action's inputs give them, plus what only the action decides. */
export type ActionInputs = JobSettings & {
  /** Whether to use the Actions cache (the job takes the cache itself, not a flag). */
  cache: boolean;
  cacheKeyPrefix: string;
  cacheMode: 'read-write' | 'restore-only';
  failOnCacheMiss: boolean;
  imageStore?: NonNullable<JobSettings['imageStore']>;
  githubToken?: string;
};

/** Every input as raw text: lists split on new lines and commas, empty means not given. */
function rawInputs(): RawValues {
  const raws: RawValues = {};
  for (const input of actionInputs()) {
    const text = core.getInput(input.name);
    if (!text) continue;
    raws[input.option] = definition(input.option).kind.multiple
      ? text
          .split(/[\n,]/)
          .map((s) => s.trim())
          .filter(Boolean)
      : [text.trim()];
  }
  return raws;
}

/**
 * Reads and checks the action's inputs with the same table and rules as the CLI's options; a
 * bad value names the input (`input concurrency: must be ...`).
 */
export function readInputs(): ActionInputs {
  let v: OptionValues;
  try {
    v = readValues(
      actionInputs().map((i) => i.option),
      rawInputs(),
    );
  } catch (err) {
    if (err instanceof UserError && err.code === 'invalid-input' && err.option) {
      const input = actionInputs().find((i) => i.option === err.option)?.name ?? err.option;
      throw new UserError(`input ${input}: ${err.message}`, { code: 'invalid-input', cause: err.cause });
    }
    throw err;
  }
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  const temp = process.env.RUNNER_TEMP || join(workspace, '.cache-images');
  const settings = pullJobSettings(v, {
    platform: v.platform ?? hostPlatform(),
    layoutDir: v.layout ?? join(temp, 'cache-images', 'layout'),
  });
  const engine = v['image-store'];
  return {
    ...settings,
    cache: v.cache !== 'false',
    cacheKeyPrefix: defaulted(v.prefix, 'prefix'),
    cacheMode: v.cache === 'restore-only' ? 'restore-only' : 'read-write',
    failOnCacheMiss: defaulted(v['fail-on-cache-miss'], 'fail-on-cache-miss'),
    imageStore: engine && {
      engine,
      namespace: v['image-store-namespace'],
      output: join(temp, 'cache-images', 'image-store.tar'),
      cache: defaulted(v['image-store-cache'], 'image-store-cache'),
    },
    githubToken: v['github-token'],
  };
}
