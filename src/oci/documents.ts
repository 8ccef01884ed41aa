/**
 * Types of the OCI and Docker documents the pipeline reads and writes, in one place.
 * Docker's schema2 documents have the same shape as OCI's, so one type serves both.
 */

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
  artifactType?: string;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  os: string;
  architecture: string;
  variant?: string;
  rootfs: { type: string; diff_ids: string[] };
  [key: string]: unknown;
}

/** `oci-layout` file. */
export interface OciLayoutMarker {
  imageLayoutVersion: string;
}

/** One entry of a docker-archive's `manifest.json`. */
export interface DockerArchiveEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** A manifest document as parsed from bytes: either an index or an image manifest. */
export type ManifestDocument =
  | { kind: 'index'; mediaType: string; document: ImageIndex }
  | { kind: 'manifest'; mediaType: string; document: ImageManifest };
