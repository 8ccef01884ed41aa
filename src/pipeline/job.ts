import { resolve } from 'node:path';
import type { Platform } from '../oci/documents.js';
import { RegistryClient } from '../registry/client.js';
import type { CredentialStore } from '../registry/credentials.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Logger } from '../util/log.js';
import type { LayerCompression } from '../archive/docker-archive.js';
import { writeArchives, type WrittenArchive } from './archives.js';
import { selectImages, type ImageSelection } from './images.js';
import { pullImages, type PullReport } from './pull.js';

export interface PullJobOptions extends ImageSelection {
  platform: Platform;
  layoutDir: string;
  archive?: string;
  archiveDir?: string;
  layerCompression: LayerCompression;
  concurrency: number;
  verify?: boolean;
  insecureRegistries: string[];
  mirrors?: Record<string, string[]>;
  caFiles?: string[];
  reportFile?: string;
  credentials?: CredentialStore;
  logger: Logger;
}

export interface PullJobResult {
  report: PullReport & { archives: WrittenArchive[] };
}

/**
 * The main job, shared by the CLI's `pull` and the action: the pallet's images plus extra
 * ones, pulled for one platform into the layout, then written as docker-archives.
 */
export async function runPullJob(options: PullJobOptions): Promise<PullJobResult> {
  const { logger } = options;
  const { references } = await selectImages({ ...options, warn: options.warn ?? ((m) => logger.warn(m)) });
  if (references.length === 0)
    logger.warn('no images to pull: the pallet requires none and no --image was given');
  const client = new RegistryClient({
    logger,
    insecureHosts: options.insecureRegistries,
    mirrors: options.mirrors,
    caFiles: options.caFiles,
    credentials: options.credentials,
  });
  let pulled: PullReport;
  try {
    pulled = await pullImages(references, {
      platform: options.platform,
      layoutDir: resolve(options.layoutDir),
      client,
      logger,
      concurrency: options.concurrency,
      verify: options.verify,
    });
  } finally {
    await client.close();
  }
  const archives =
    options.archive || options.archiveDir
      ? await writeArchives({
          layoutDir: resolve(options.layoutDir),
          archive: options.archive,
          archiveDir: options.archiveDir,
          layerCompression: options.layerCompression,
          logger,
        })
      : [];
  const report = { ...pulled, archives };
  if (options.reportFile)
    await writeFileAtomic(resolve(options.reportFile), `${JSON.stringify(report, null, 2)}\n`);
  return { report };
}
