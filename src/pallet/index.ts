export type { ImageKind, ImageRequirement, PalletOptions, RequiredImage } from './types.js';
export { listPalletImages } from './list-images.js';
