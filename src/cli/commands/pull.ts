import { parsePlatform } from '../../oci/platform.js';
import { runPullJob } from '../../pipeline/job.js';
import { UsageError } from '../../util/errors.js';
import { formatBytes, type Logger } from '../../util/log.js';
import {
  keyValues,
  oneOf,
  parseCommand,
  positiveInteger,
  registryOptions,
  registryOptionSpecs,
  registryOptionsHelp,
} from '../options.js';

export const pullHelp = `Usage: cache-images pull [--pallet DIR] [--image REF]... [--include-disabled] --platform OS/ARCH[/VARIANT]
                         --layout DIR [--archive FILE] [--archive-dir DIR] [--layer-compression keep|none]
                         [--concurrency N] [--verify] [--insecure-registry HOST]... [--mirror REGISTRY=MIRROR]...
                         [--ca-file FILE]... [--report FILE]
                         [--repo PATH=DIR]... [--pallet-req PATH=DIR]...

Downloads every image of the pallet (and each --image) for one platform into an OCI image
layout, reusing the blobs the layout already holds, then writes docker-archives.

  --pallet DIR              pallet checkout whose images to pull
  --image REF               an extra image (repeatable); needs a tag or a digest
  --include-disabled        also pull images of disabled deployments
  --platform P              e.g. linux/arm64, linux/arm/v7, linux/amd64 (required)
  --layout DIR              OCI image layout to fill (created if missing; required)
  --archive FILE            write one docker-archive holding every image
  --archive-dir DIR         write one docker-archive per image into DIR
  --layer-compression C     keep: layers as the registry serves them (default);
                            none: decompressed, checked against diff_ids (faster to load in QEMU)
  --concurrency N           blobs downloaded at once (default 8)
  --verify                  re-hash blobs already in the layout; damaged ones are fetched again
${registryOptionsHelp}  --report FILE             write a JSON report: per image reference, digests, size, source; totals
  --repo PATH=DIR, --pallet-req PATH=DIR   as for 'cache-images list'

Registry credentials are read from docker's config.json ($DOCKER_CONFIG or ~/.docker), as
written by 'docker login'.
`;

export async function pullCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommand(args, {
    pallet: { type: 'string' },
    image: { type: 'string', multiple: true },
    'include-disabled': { type: 'boolean' },
    platform: { type: 'string' },
    layout: { type: 'string' },
    archive: { type: 'string' },
    'archive-dir': { type: 'string' },
    'layer-compression': { type: 'string' },
    concurrency: { type: 'string' },
    verify: { type: 'boolean' },
    ...registryOptionSpecs,
    report: { type: 'string' },
    repo: { type: 'string', multiple: true },
    'pallet-req': { type: 'string', multiple: true },
  });
  if (v.help) {
    process.stdout.write(pullHelp);
    return 0;
  }
  if (!v.platform) throw new UsageError('--platform is required, e.g. --platform linux/arm64');
  if (!v.layout) throw new UsageError('--layout is required: the directory of the OCI image layout to fill');
  if (!v.pallet && !v.image?.length)
    throw new UsageError('nothing to pull: give --pallet DIR and/or --image REF');
  const { report } = await runPullJob({
    pallet: v.pallet,
    images: v.image,
    includeDisabled: v['include-disabled'],
    repoOverrides: keyValues(v.repo, 'repo'),
    palletOverrides: keyValues(v['pallet-req'], 'pallet-req'),
    platform: parsePlatform(v.platform),
    layoutDir: v.layout,
    archive: v.archive,
    archiveDir: v['archive-dir'],
    layerCompression: oneOf(v['layer-compression'], 'layer-compression', ['keep', 'none'] as const, 'keep'),
    concurrency: positiveInteger(v.concurrency, 'concurrency', 8),
    verify: v.verify,
    ...registryOptions(v),
    reportFile: v.report,
    logger,
  });
  const t = report.totals;
  logger.info(
    `${t.images} images for ${report.platform}, ${formatBytes(t.size)}; downloaded ${formatBytes(t.downloadedBytes)} ` +
      `(${t.blobsFromRegistry} blobs), reused ${t.blobsFromLayout} blobs from the layout`,
  );
  return 0;
}
