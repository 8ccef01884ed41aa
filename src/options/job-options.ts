import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '../oci/documents.js';
import type { ImageSelection } from '../pipeline/images.js';
import type { PullJobOptions } from '../pipeline/job.js';
import type { OptionValues } from './definitions.js';
import { defaulted } from './read.js';

/** The folder holding forklift-pallet.yml that `pull` and `key` use when no pallet is named. */
export function defaultPallet(folder = '.'): string | undefined {
  return existsSync(join(folder, 'forklift-pallet.yml')) ? folder : undefined;
}

/** Which images: the named pallet (else the current folder's, if any) plus the extra references. */
export function imageSelection(v: OptionValues): ImageSelection {
  return {
    pallet: v.pallet ?? defaultPallet(),
    images: v.image ?? [],
    includeDisabled: v['include-disabled'],
    repoOverrides: v.repo ?? {},
    palletOverrides: v['pallet-req'] ?? {},
  };
}

/** Registry access, shared by `pull` and `key`. */
export function registryAccess(v: OptionValues) {
  return {
    insecureRegistries: v['insecure-registry'] ?? [],
    mirrors: v.mirror ?? {},
    caFiles: v['ca-file'] ?? [],
  };
}

export type JobSettings = Omit<PullJobOptions, 'logger' | 'cache' | 'credentials' | 'phase'>;

/**
 * The pull job's options from option values, the same for the CLI's `pull` and the action;
 * each front end gives the platform and layout it defaults to.
 */
export function pullJobSettings(
  v: OptionValues,
  where: { platform: Platform; layoutDir: string },
): JobSettings {
  return {
    ...imageSelection(v),
    ...registryAccess(v),
    platform: where.platform,
    layoutDir: where.layoutDir,
    archive: v.archive,
    archiveDir: v['archive-dir'],
    layerCompression: defaulted(v['layer-compression'], 'layer-compression'),
    concurrency: defaulted(v.concurrency, 'concurrency'),
    verify: v.verify,
    reportFile: v.report,
    offline: v.offline,
    onRegistryError: v['on-registry-error'],
    lockTimeoutMs: v['lock-timeout'],
    idleTimeoutMs: v['idle-timeout'],
  };
}
