import { UserError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export type CacheHit = 'exact' | 'prefix' | 'miss' | 'unavailable';

/**
 * The seam between the restore/save rules and the Actions cache service, so the rules are
 * tested with the real client against a local server speaking the service's protocol.
 */
export interface CacheBackend {
  available(): boolean;
  restore(paths: string[], key: string, restoreKeys: string[]): Promise<string | undefined>;
  /** The saved entry's id, or -1 when the client did not save (e.g. another job holds the key). */
  save(paths: string[], key: string): Promise<number>;
}

/** The key minus its hash: any layout of the same prefix and platform supplies unchanged blobs. */
export function restoreKeyPrefix(key: string): string {
  return key.replace(/[^-]+$/, '');
}

/** Keys the service accepts: at most 512 characters, no commas. */
function checkKey(key: string): void {
  if (key.length > 512 || key.includes(',')) {
    throw new UserError(
      `cache key ${JSON.stringify(key)} is not valid (at most 512 characters, no commas): shorten cache-key-prefix`,
    );
  }
}

let warnedUnavailable = false;

/** Says once per run that the cache is off, and why. */
function unavailable(logger: Logger, why: string): void {
  if (warnedUnavailable) return;
  warnedUnavailable = true;
  logger.warn(
    `the Actions cache is unavailable (${why}): going on without it, every image comes from its registry`,
  );
}

/**
 * Restores the layout: the exact key first, else the newest entry of the same prefix. The
 * service failing never fails the run.
 */
export async function restoreLayout(
  backend: CacheBackend,
  o: { layoutDir: string; key: string; logger: Logger },
): Promise<{ hit: CacheHit; matchedKey?: string }> {
  checkKey(o.key);
  if (!backend.available()) {
    unavailable(o.logger, 'no cache service is configured for this run');
    return { hit: 'unavailable' };
  }
  let matchedKey: string | undefined;
  try {
    matchedKey = await backend.restore([o.layoutDir], o.key, [restoreKeyPrefix(o.key)]);
  } catch (err) {
    unavailable(o.logger, errorMessage(err));
    return { hit: 'unavailable' };
  }
  if (!matchedKey) {
    o.logger.info(`cache: no layout for ${o.key} or its prefix; pulling everything`);
    return { hit: 'miss' };
  }
  if (matchedKey === o.key) {
    o.logger.info(`cache: restored the layout for ${o.key}`);
    return { hit: 'exact', matchedKey };
  }
  o.logger.info(`cache: restored the older layout ${matchedKey}; pulling only what changed`);
  return { hit: 'prefix', matchedKey };
}

/** How a run uses the cache: restore and save, or restore only (forks' pull requests). */
export type CacheMode = 'read-write' | 'restore-only';

/**
 * The one rule for saving: never under a key that was just restored (entries are immutable),
 * never when the service is unavailable (one warning already said so), never in restore-only.
 */
export function shouldSave(hit: CacheHit, mode: CacheMode = 'read-write'): boolean {
  return mode === 'read-write' && hit !== 'exact' && hit !== 'unavailable';
}

/** Saves the layout under the key, when `shouldSave` allows. */
export async function saveLayout(
  backend: CacheBackend,
  o: { layoutDir: string; key: string; hit: CacheHit; mode?: CacheMode; logger: Logger },
): Promise<{ saved: boolean }> {
  if (!shouldSave(o.hit, o.mode)) return { saved: false };
  let id: number;
  try {
    id = await backend.save([o.layoutDir], o.key);
  } catch (err) {
    o.logger.warn(`cache: could not save the layout (${errorMessage(err)}); the next run pulls again`);
    return { saved: false };
  }
  if (id === -1) {
    // The client already said why (another job saving the same key is the usual reason).
    o.logger.info(`cache: the layout was not saved under ${o.key}`);
    return { saved: false };
  }
  o.logger.info(`cache: saved the layout as ${o.key}`);
  return { saved: true };
}
