import { commandHelp, parseCommandLine } from '../../options/index.js';
import { buildImageStore, storeManifestPath, type StoreEngine } from '../../store/index.js';
import type { Logger } from '../../util/log.js';

export const storeHelp = commandHelp(
  'store',
  `Builds the device's image store on this machine instead of running 'docker load' in the
emulated OS build: a private dockerd or containerd of this machine (no emulation, nothing is
run) loads the layout's images, is stopped, and its store is written as a tarball to extract
into the OS image's root file system, engine stopped:
  tar --xattrs --xattrs-include='*' --numeric-owner -xpf FILE -C /
FILE.json describes it (engine, version, storage driver, namespace, platform, images). Needs
root, and the engine's Debian/Ubuntu package (docker.io, containerd).`,
);

export async function storeCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommandLine('store', args);
  if (v.help) {
    process.stdout.write(storeHelp);
    return 0;
  }
  // The table makes --layout, --engine and --output required: the parser has refused their absence.
  const output = v.output as string;
  const manifest = await buildImageStore({
    layoutDir: v.layout as string,
    engine: v.engine as StoreEngine,
    namespace: v.namespace,
    dataRoot: v['data-root'],
    output,
    logger,
  });
  logger.info(
    `${manifest.images.length} images in a ${manifest.engine} ${manifest.engineVersion} store (${manifest.storageDriver}${manifest.namespace ? `, namespace ${manifest.namespace}` : ''}); manifest ${storeManifestPath(output)}`,
  );
  return 0;
}
