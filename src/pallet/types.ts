export type ImageKind = 'compose' | 'file-export';

/** One place that requires an image. */
export interface ImageRequirement {
  /** Deployment name, e.g. `apps/grafana`. */
  deployment: string;
  /** Package path as written in the deploy file. */
  package: string;
  /** Compose file or forklift-package.yml: relative to the pallet root, or `repo-path/...`. */
  file: string;
  /** Line in `file` of the `image:` or the file export's `url:`, when known. */
  line?: number;
  /** Compose service name. */
  service?: string;
  /** File export target. */
  fileExport?: string;
}

export interface RequiredImage {
  reference: string;
  kind: ImageKind;
  requiredBy: ImageRequirement[];
}

export interface PalletOptions {
  includeDisabled?: boolean;
  /** Default 'all'. */
  kind?: ImageKind | 'all';
  /** Package repository path -> local folder used instead of fetching it. */
  repoOverrides?: Record<string, string>;
  /** Required pallet path -> local folder used instead of fetching it. */
  palletOverrides?: Record<string, string>;
  /** Default $XDG_CACHE_HOME/cache-images, or ~/.cache/cache-images. */
  cacheDir?: string;
  /** Default ~/.cache/forklift. */
  forkliftCacheDir?: string;
  /** Build-only services and other things worth knowing that do not stop the listing. */
  warn?: (message: string) => void;
}
