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

/** One image's failure; `image` names it when the error (shared by a registry's requests) does not. */
export interface Failure {
  image?: string;
  error: unknown;
}

/**
 * Turns the failures of many images into one error to throw, each cause said once: images
 * failing for one registry-wide cause become one line naming them all; other failures
 * beyond the first are logged as warnings.
 */
export function oneFailure(failures: (Failure | unknown)[], logger: Logger): unknown {
  const items = failures.map((f) => (isFailure(f) ? f : { error: f }));
  const groups = new Map<string, { first: UserError; images: Set<string> }>();
  const distinct: unknown[] = [];
  for (const { image, error } of items) {
    const key = groupKey(error);
    const name = image ?? (error instanceof UserError ? error.image : undefined);
    if (key && error instanceof UserError) {
      const group = groups.get(key);
      if (group) {
        if (name) group.images.add(name);
        continue;
      }
      groups.set(key, { first: error, images: new Set(name ? [name] : []) });
    }
    if (!distinct.includes(error)) distinct.push(error);
  }
  const reported = distinct.map((error) => {
    const group = groups.get(groupKey(error) ?? '');
    if (!group || !(error instanceof UserError)) return error;
    const others = [...group.images].filter((i) => i !== error.image);
    if (others.length === 0) return error;
    const images = others.length === 1 ? 'image' : 'images';
    return error.with(
      {},
      `${error.message} (and ${others.length} more ${images} of that registry: ${others.join(', ')})`,
    );
  });
  for (const f of reported.slice(1)) logger.warn(errorMessage(f));
  return reported[0];
}

function isFailure(f: unknown): f is Failure {
  return typeof f === 'object' && f !== null && 'error' in f && !(f instanceof Error);
}

function groupKey(error: unknown): string | undefined {
  if (error instanceof UserError && error.code && REGISTRY_WIDE.has(error.code) && error.registry)
    return `${error.code} ${error.registry}`;
  return undefined;
}
