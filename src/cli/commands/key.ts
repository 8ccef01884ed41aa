import { parsePlatform } from '../../oci/platform.js';
import { cacheKey, resolveDigests } from '../../pipeline/cache-key.js';
import { selectImages } from '../../pipeline/images.js';
import { RegistryClient } from '../../registry/client.js';
import { UsageError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import {
  keyValues,
  parseCommand,
  registryOptions,
  registryOptionSpecs,
  registryOptionsHelp,
} from '../options.js';

export const keyHelp = `Usage: cache-images key [--pallet DIR] [--image REF]... [--include-disabled] --platform P [--prefix S]
                        [--insecure-registry HOST]... [--mirror REGISTRY=MIRROR]... [--ca-file FILE]...
                        [--repo PATH=DIR]... [--pallet-req PATH=DIR]...

Prints the cache key of the images' digest set: <prefix>-<os>-<arch>[-<variant>]-<hash>.
The same images with the same upstream digests give the same key on any machine; a moved tag
or an added image gives a new one. Tags are resolved with HEAD requests only; references
pinned by digest need no request.

  --prefix S                key prefix (default: cache-images)
${registryOptionsHelp}`;

export async function keyCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommand(args, {
    pallet: { type: 'string' },
    image: { type: 'string', multiple: true },
    'include-disabled': { type: 'boolean' },
    platform: { type: 'string' },
    prefix: { type: 'string' },
    ...registryOptionSpecs,
    repo: { type: 'string', multiple: true },
    'pallet-req': { type: 'string', multiple: true },
  });
  if (v.help) {
    process.stdout.write(keyHelp);
    return 0;
  }
  if (!v.platform) throw new UsageError('--platform is required, e.g. --platform linux/arm64');
  if (!v.pallet && !v.image?.length) throw new UsageError('no images: give --pallet DIR and/or --image REF');
  const platform = parsePlatform(v.platform);
  const { references } = await selectImages({
    pallet: v.pallet,
    images: v.image,
    includeDisabled: v['include-disabled'],
    repoOverrides: keyValues(v.repo, 'repo'),
    palletOverrides: keyValues(v['pallet-req'], 'pallet-req'),
    warn: (m) => logger.warn(m),
  });
  const registry = registryOptions(v);
  const client = new RegistryClient({
    logger,
    insecureHosts: registry.insecureRegistries,
    mirrors: registry.mirrors,
    caFiles: registry.caFiles,
  });
  try {
    const pairs = await resolveDigests(references, client);
    process.stdout.write(`${cacheKey(pairs, platform, v.prefix)}\n`);
  } finally {
    await client.close();
  }
  return 0;
}
