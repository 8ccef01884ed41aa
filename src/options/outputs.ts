/** The action's outputs, declared in action.yml and documented in the README from here. */
export const OUTPUTS = {
  'cache-hit': 'true when the layout was restored from the cache under the exact key',
  'cache-key': "the cache key of this run's digest set",
  'cache-matched-key':
    'the key of the cache entry the layout was restored from (exact or by prefix); empty when none',
  'layout-path': 'folder of the OCI image layout',
  'archive-path': 'path of the docker-archive holding every image; empty when none was written',
  archives:
    'JSON array of the paths of every archive written (the archive, then one per image with archive-dir)',
  images: 'JSON array: per image reference, digest (top-level), platformDigest and size in bytes',
  'downloaded-bytes': 'bytes downloaded from registries in this run',
  'platform-slug': 'the platform as a name without slashes, e.g. linux-arm-v7 (for artifact names)',
  'report-path': 'path of the JSON report, when one was written',
  changes: 'JSON: the images added, removed and changed since the cached layout',
  'image-store-path': 'path of the image store tarball (image-store); empty when none',
} as const;

export type OutputName = keyof typeof OUTPUTS;
