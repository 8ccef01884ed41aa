import type { Descriptor, DockerArchiveEntry, ImageConfig } from '../oci/documents.js';
import { isDigest, sha256Digest } from '../oci/digest.js';
import { Annotation } from '../oci/media-types.js';
import { DocumentError, parseConfig, parseManifest } from '../oci/parse.js';
import { formatPlatform, isAttestation, normalizePlatform } from '../oci/platform.js';
import { UserError } from '../util/errors.js';
import type { ImageFiles } from './image-files.js';

/** One file of an image and what its bytes must hash to (checked by --verify). */
export interface ImageBlob {
  /** Path inside the archive or layout. */
  path: string;
  size: number;
  /** Digest of the bytes as stored, when the archive records it. */
  digest?: string;
  /** Digest of the uncompressed bytes (a layer's diff_id), checked when `digest` is unknown. */
  diffId?: string;
}

export interface InspectedImage {
  /** Every name the archive gives the image (RepoTags, or the index's image name). */
  references: string[];
  /** The registry's top-level digest (index or manifest), when the archive keeps it. */
  digest: string | null;
  /** The platform manifest's digest, when the archive keeps it. */
  manifest: string | null;
  /** The config's digest: Docker's image ID. */
  id: string;
  platform: string;
  /** Bytes stored for the image: documents and layers. */
  size: number;
  layers: ImageBlob[];
  /** Every blob of the image, documents first. */
  blobs: ImageBlob[];
}

export interface Inspection {
  where: string;
  /** `oci`: an index.json names the images (an OCI layout, our archives, Docker 25+ saves). */
  format: 'oci' | 'docker-archive';
  images: InspectedImage[];
}

/**
 * The images of an archive (ours, `docker save`, skopeo's docker-archive) or of an OCI layout:
 * through index.json when there is an OCI layout, else through docker's manifest.json.
 */
export async function inspectImages(files: ImageFiles): Promise<Inspection> {
  const where = files.where;
  try {
    if ((await files.size('oci-layout')) !== undefined && (await files.size('index.json')) !== undefined) {
      return { where, format: 'oci', images: await ociImages(files) };
    }
    if ((await files.size('manifest.json')) !== undefined) {
      return { where, format: 'docker-archive', images: await dockerImages(files) };
    }
  } catch (err) {
    if (err instanceof DocumentError) throw new UserError(err.message, { code: 'malformed', file: where });
    throw err;
  }
  throw new UserError('holds neither an OCI index (oci-layout, index.json) nor a docker manifest.json', {
    code: 'malformed',
    file: where,
  });
}

const blobPath = (digest: string) => {
  if (!isDigest(digest)) throw new DocumentError(`unsupported digest ${JSON.stringify(digest)}`);
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
};

function describe(d: Descriptor): ImageBlob {
  return { path: blobPath(d.digest), size: d.size, digest: d.digest };
}

async function ociImages(files: ImageFiles): Promise<InspectedImage[]> {
  const index = parseManifest(await files.read('index.json'), 'application/vnd.oci.image.index.v1+json');
  if (index.kind !== 'index') throw new DocumentError('index.json is not an image index');
  const images: InspectedImage[] = [];
  for (const top of index.document.manifests) {
    const name = top.annotations?.[Annotation.ContainerdImageName] ?? top.annotations?.[Annotation.RefName];
    const label = name ?? top.digest;
    const fail = (why: string) =>
      new UserError(`image ${label}: ${why}`, { code: 'malformed', file: files.where, image: label });
    const topBlob = describe(top);
    if ((await files.size(topBlob.path)) === undefined)
      throw fail(`its top-level document ${top.digest} is missing`);
    const doc = parseManifest(await files.read(topBlob.path), top.mediaType);
    let platforms: Descriptor[] = [top];
    if (doc.kind === 'index') {
      platforms = [];
      for (const child of doc.document.manifests) {
        if (!isAttestation(child) && (await files.size(blobPath(child.digest))) !== undefined)
          platforms.push(child);
      }
      if (!platforms.length) throw fail('no platform manifest of its index is here');
    }
    for (const m of platforms) {
      const manifestBlob = describe(m);
      const manifest = parseManifest(await files.read(manifestBlob.path), m.mediaType);
      if (manifest.kind !== 'manifest') throw fail(`${m.digest} is a nested index, which is not supported`);
      const configBlob = describe(manifest.document.config);
      const config = parseConfig(await files.read(configBlob.path));
      const layers = manifest.document.layers.map((l, i) => ({
        ...describe(l),
        diffId: config.rootfs.diff_ids[i],
      }));
      const blobs = [...(m === top ? [topBlob] : [topBlob, manifestBlob]), configBlob, ...layers];
      images.push({
        references: name ? [name] : [],
        digest: top.digest,
        manifest: m.digest,
        id: manifest.document.config.digest,
        platform: platformOf(config),
        size: blobs.reduce((n, b) => n + b.size, 0),
        layers,
        blobs,
      });
    }
  }
  return images;
}

async function dockerImages(files: ImageFiles): Promise<InspectedImage[]> {
  let entries: unknown;
  try {
    entries = JSON.parse((await files.read('manifest.json')).toString('utf8'));
  } catch {
    throw new DocumentError('manifest.json is not valid JSON');
  }
  if (!Array.isArray(entries)) throw new DocumentError('manifest.json is not a list of images');
  const images: InspectedImage[] = [];
  for (const entry of entries as DockerArchiveEntry[]) {
    if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers))
      throw new DocumentError('manifest.json has an entry without Config or Layers');
    const references = entry.RepoTags ?? [];
    const label = references[0] ?? entry.Config;
    const fail = (why: string) =>
      new UserError(`image ${label}: ${why}`, { code: 'malformed', file: files.where, image: label });
    const configSize = await files.size(entry.Config);
    if (configSize === undefined) throw fail(`its config ${entry.Config} is missing`);
    const configBytes = await files.read(entry.Config);
    const config = parseConfig(configBytes);
    if (config.rootfs.diff_ids.length !== entry.Layers.length)
      throw fail(
        `it lists ${entry.Layers.length} layers, but its config has ${config.rootfs.diff_ids.length} diff_ids`,
      );
    // The config's name carries its digest in every writer's layout (<hex>.json or blobs/sha256/<hex>).
    const named = /([a-f0-9]{64})(\.json)?$/.exec(entry.Config)?.[1];
    const id = sha256Digest(configBytes);
    const configBlob: ImageBlob = {
      path: entry.Config,
      size: configSize,
      digest: named ? `sha256:${named}` : id,
    };
    const layers: ImageBlob[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const size = await files.size(path);
      if (size === undefined) throw fail(`its layer ${path} is missing`);
      const hex = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path)?.[1];
      layers.push({
        path,
        size,
        diffId: config.rootfs.diff_ids[i],
        ...(hex ? { digest: `sha256:${hex}` } : {}),
      });
    }
    const blobs = [configBlob, ...layers];
    images.push({
      references,
      digest: null,
      manifest: null,
      id,
      platform: platformOf(config),
      size: blobs.reduce((n, b) => n + b.size, 0),
      layers,
      blobs,
    });
  }
  return images;
}

function platformOf(config: ImageConfig): string {
  return formatPlatform(
    normalizePlatform({ os: config.os, architecture: config.architecture, variant: config.variant }),
  );
}
