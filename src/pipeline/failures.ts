import { errorMessage, UserError, type ErrorCode } from '../util/errors.js';
import type { Logger } from '../util/log.js';

/** Causes that belong to a registry, not to an image: every image of that registry fails alike. */
const REGISTRY_WIDE: ReadonlySet<ErrorCode> = new Set([
  'dns',
  'unreachable',
  'untrusted-certificate',
  'plain-http',
  'rate-limited',
]);

/**
 * Turns the failures of many images into one error to throw, each cause said once: images
 * failing for one registry-wide cause become one line naming them all; other failures
 * beyond the first are logged as warnings.
 */
export function oneFailure(failures: unknown[], logger: Logger): unknown {
  const groups = new Map<string, UserError[]>();
  const distinct: unknown[] = [];
  for (const f of failures) {
    if (f instanceof UserError && f.code && REGISTRY_WIDE.has(f.code) && f.registry) {
      const key = `${f.code} ${f.registry}`;
      const group = groups.get(key);
      if (group) {
        group.push(f);
        continue;
      }
      groups.set(key, [f]);
    }
    distinct.push(f);
  }
  const reported = distinct.map((f) => {
    if (!(f instanceof UserError)) return f;
    const group = groups.get(`${f.code} ${f.registry}`);
    if (!group || group.length < 2) return f;
    const others = group.slice(1).map((e) => e.image);
    return f.with(
      {},
      `${f.message} (and ${others.length} more ${others.length === 1 ? 'image' : 'images'} of that registry: ${others.join(', ')})`,
    );
  });
  for (const f of reported.slice(1)) logger.warn(errorMessage(f));
  return reported[0];
}
