import { commandHelp, imageSelection, parseCommandLine, registryAccess } from '../../options/index.js';
import type { Platform } from '../../oci/documents.js';
import { cacheKey } from '../../cache/index.js';
import { tryResolveDigests } from '../../pipeline/resolve-digests.js';
import { oneFailure } from '../../pipeline/failures.js';
import { selectImages } from '../../pipeline/images.js';
import { registryClientFrom } from '../../registry/from-options.js';
import { RegistrySource } from '../../registry/registry-source.js';
import { UsageError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';

export const keyHelp = commandHelp(
  'key',
  `Prints the cache key of the images' digest set: <prefix>-<os>-<arch>[-<variant>]-<hash>.
The same images with the same upstream digests give the same key on any machine; a moved tag
or an added image gives a new one. Tags are resolved with HEAD requests only; references
pinned by digest need no request. Without --pallet, the current folder's pallet is used when
it holds forklift-pallet.yml.`,
);

export async function keyCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommandLine('key', args);
  if (v.help) {
    process.stdout.write(keyHelp);
    return 0;
  }
  const selection = imageSelection(v);
  if (!selection.pallet && !selection.images?.length)
    throw new UsageError('no images: give --pallet DIR and/or --image REF (no forklift-pallet.yml here)');
  const { references } = await selectImages({ ...selection, warn: (m) => logger.warn(m) });
  const client = registryClientFrom({ ...registryAccess(v), logger });
  try {
    const { pairs, failures } = await tryResolveDigests(references, new RegistrySource(client));
    if (failures.length)
      throw oneFailure(
        failures.map((f) => ({ image: f.reference, error: f.error })),
        logger,
      );
    process.stdout.write(`${cacheKey(pairs, v.platform as Platform, v.prefix)}\n`);
  } finally {
    await client.close();
  }
  return 0;
}
