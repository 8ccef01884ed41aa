import { createHash } from 'node:crypto';
import type { Platform } from '../oci/documents.js';
import { parsePlatform } from '../oci/platform.js';
import { cacheKey, type DigestPair } from '../cache/index.js';
import { UserError } from '../util/errors.js';
import { BACKENDS } from './engine-backends.js';
import { requireTools, runTool } from './host-tools.js';
import { DEFAULT_DATA_ROOT, DEFAULT_NAMESPACE, type StoreEngine } from './store-types.js';

/** Bump when what the tarball holds changes for the same inputs, so old caches are not restored. */
const STORE_KEY_VERSION = 'cache-images-store-v1';

export interface StoreKeyInput {
  /** Every image's reference and top-level digest (the layout's digest set). */
  images: DigestPair[];
  platform: Platform | string;
  engine: StoreEngine;
  engineVersion: string;
  storageDriver: string;
  namespace?: string;
  dataRoot?: string;
  prefix?: string;
}

/**
 * `<prefix>-store-<engine>-<os>-<arch>[-<variant>]-<hash>`: the hash covers the digest set and
 * platform (as the layout's key does), the engine, its version, its storage driver or
 * snapshotter, the namespace and the data root, since an engine reads only stores of its kind.
 */
export function storeCacheKey(input: StoreKeyInput): string {
  const platform = typeof input.platform === 'string' ? parsePlatform(input.platform) : input.platform;
  const layoutKey = cacheKey(
    input.images,
    platform,
    `${input.prefix ?? 'cache-images'}-store-${input.engine}`,
  );
  const cut = layoutKey.lastIndexOf('-');
  const hash = createHash('sha256')
    .update(
      [
        STORE_KEY_VERSION,
        layoutKey.slice(cut + 1),
        input.engine,
        input.engineVersion,
        input.storageDriver,
        BACKENDS[input.engine].usesNamespace ? (input.namespace ?? DEFAULT_NAMESPACE) : '',
        input.dataRoot ?? DEFAULT_DATA_ROOT[input.engine],
      ].join('\n'),
    )
    .digest('hex');
  return `${layoutKey.slice(0, cut)}-${hash.slice(0, 32)}`;
}

/** The first version-looking word: `Docker version 20.10.24+dfsg1, build ...`, `containerd ... 1.6.20~ds1 ...`. */
export function parseEngineVersion(text: string): string | undefined {
  return /(?:^|\s)v?(\d+\.\d+[^\s,]*)/.exec(text)?.[1];
}

/**
 * The engine's version and store kind as the host's binaries report them, without starting
 * anything: what a cache key needs before deciding to build.
 */
export async function engineIdentity(
  engine: StoreEngine,
): Promise<{ engine: StoreEngine; engineVersion: string; storageDriver: string }> {
  const program = engine === 'docker' ? 'dockerd' : 'containerd';
  await requireTools([program]);
  const text = await runTool(program, ['--version'], { timeoutMs: 30_000 });
  const engineVersion = parseEngineVersion(text);
  if (!engineVersion) {
    throw new UserError(`${program} --version printed no version: ${text.trim()}`, { code: 'engine' });
  }
  return { engine, engineVersion, storageDriver: BACKENDS[engine].storageDriver };
}
