import { listPalletImages, type RequiredImage } from '../pallet/index.js';
import { isUnpinned, parseReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';

export interface ImageSelection {
  /** Pallet checkout whose images are required; omitted = only `images`. */
  pallet?: string;
  /** Extra references given by the user. */
  images?: string[];
  includeDisabled?: boolean;
  repoOverrides?: Record<string, string>;
  palletOverrides?: Record<string, string>;
  warn?: (message: string) => void;
}

export interface SelectedImages {
  references: string[];
  /** What the pallet says of each of its images (deployments, files), for summaries. */
  pallet: RequiredImage[];
}

/**
 * The references a run needs: every image of the pallet plus the extra ones, each once,
 * in bytewise order like Forklift's lists. Every reference must be pinned by tag or digest.
 */
export async function selectImages(selection: ImageSelection): Promise<SelectedImages> {
  const pallet = selection.pallet
    ? await listPalletImages(selection.pallet, {
        includeDisabled: selection.includeDisabled,
        repoOverrides: selection.repoOverrides,
        palletOverrides: selection.palletOverrides,
        warn: selection.warn,
      })
    : [];
  for (const image of selection.images ?? []) {
    if (isUnpinned(parseReference(image))) {
      throw new UserError(
        `image ${image} has neither a tag nor a digest: add one (e.g. ${image}:1.2.3), latest is never assumed`,
      );
    }
  }
  const references = [...new Set([...pallet.map((i) => i.reference), ...(selection.images ?? [])])].sort(
    bytewise,
  );
  return { references, pallet };
}

export function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
