import { isUnpinned, parseReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import type { RequiredImage } from './types.js';

/** Why Forklift could not pull `reference`, or undefined when it can. */
function unpullable(reference: string): string | undefined {
  try {
    return isUnpinned(parseReference(reference)) ? 'has neither a tag nor a digest' : undefined;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return `is not a valid reference (${err.message.replace(/^invalid image reference "[^"]*": /, '')})`;
  }
}

/**
 * Refuses, in one error, every image that cannot be pulled: those with neither tag nor digest
 * (Forklift never assumes :latest) and malformed ones. Each is named with every place that requires
 * it. Listing prints such images as written, as `forklift plt ls-img` does; only pulling and
 * keying call this, once, on the whole selection.
 */
export function checkPullable(images: readonly RequiredImage[], extra: readonly string[] = []): void {
  const problems: string[] = [];
  let first: { file: string; line?: number } | undefined;
  for (const image of images) {
    const why = unpullable(image.reference);
    if (!why) continue;
    const places = image.requiredBy.map((r) => {
      first ??= { file: r.file, line: r.line };
      const what = r.service ? `service ${r.service}` : `file export ${r.fileExport ?? ''}`;
      return `${r.file}${r.line ? `:${r.line}` : ''} (deployment ${r.deployment}, ${what})`;
    });
    problems.push(`image ${image.reference} ${why}, at ${places.join(' and ')}`);
  }
  const inPallet = problems.length;
  for (const reference of new Set(extra)) {
    const why = unpullable(reference);
    if (why) problems.push(`image ${reference} ${why}, given as an extra image`);
  }
  if (problems.length === 0) return;
  const count = problems.length === 1 ? '' : `${problems.length} images cannot be pulled: `;
  throw new UserError(
    `${count}${problems.join('; ')}; pin ${problems.length === 1 ? 'it' : 'each'} with a tag or a digest (e.g. alpine:3.20 or alpine@sha256:...), latest is never assumed`,
    inPallet > 0 ? { code: 'pallet', ...first } : { code: 'invalid-input' },
  );
}
