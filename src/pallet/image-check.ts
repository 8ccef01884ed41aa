import { isUnpinned, parseReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import type { Loc } from './yaml-values.js';

/** Refuses what Forklift cannot pull: malformed references, and ones with neither tag nor digest. */
export function checkImageReference(reference: string, loc: Loc): void {
  let parsed;
  try {
    parsed = parseReference(reference);
  } catch (err) {
    if (err instanceof UserError)
      throw new UserError(`${err.message}; fix the image reference`, { ...loc, cause: err });
    throw err;
  }
  if (isUnpinned(parsed)) {
    throw new UserError(
      `image ${reference} has neither tag nor digest, and Forklift does not assume :latest; pin it (e.g. ${reference}:1.2.3 or @sha256:...)`,
      loc,
    );
  }
}
