import { checkPullable, readPallet, type PalletIdentity, type RequiredImage } from '../pallet/index.js';

export interface ImageSelection {
  /** Pallet whose images are required: a folder, or `host/path@version`; omitted = only `images`. */
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
  /** Which pallet was read (path, version and commit for a remote one); absent without a pallet. */
  source?: PalletIdentity;
}

/**
 * The references a run needs: every image of the pallet plus the extra ones, each once,
 * in bytewise order like Forklift's lists. Every reference must be pullable (pinned by tag or
 * digest, well formed): all that are not are refused together.
 */
export async function selectImages(selection: ImageSelection): Promise<SelectedImages> {
  const listing = selection.pallet
    ? await readPallet(selection.pallet, {
        includeDisabled: selection.includeDisabled,
        repoOverrides: selection.repoOverrides,
        palletOverrides: selection.palletOverrides,
        warn: selection.warn,
      })
    : undefined;
  const pallet = listing?.images ?? [];
  checkPullable(pallet, selection.images ?? []);
  const references = [...new Set([...pallet.map((i) => i.reference), ...(selection.images ?? [])])].sort(
    bytewise,
  );
  return { references, pallet, source: listing?.pallet };
}

export function bytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
