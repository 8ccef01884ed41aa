export type { ImageKind, ImageRequirement, PalletOptions, RequiredImage } from './types.js';
export { listPalletImages, readPallet, type PalletListing } from './list-images.js';
export { describePallet, type PalletIdentity } from './pallet-source.js';
export { checkPullable } from './image-check.js';
