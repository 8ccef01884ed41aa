/**
 * The registry's own limit: the configs and layers a layout holds, fetched from the registry by
 * curl, 8 at once, each to its own file, as no HTTP client in Node can do faster.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { timed, type Measure } from './measure.js';

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

interface Document {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

export interface RegistryBlob {
  /** The repository of an image whose manifest lists the blob (a registry serves a blob only there). */
  repository: string;
  digest: string;
  size: number;
}

const readDocument = (layout: string, digest: string): Document =>
  JSON.parse(readFileSync(join(layout, 'blobs', ...digest.split(':')), 'utf8')) as Document;

/**
 * The configs and layers of a layout's images for one platform, each once, with a repository that
 * serves it: index.json -> top-level document (index or manifest) -> platform manifest -> config +
 * layers. Manifests and indexes are left out (curl fetches blobs, not documents).
 */
export function layoutBlobs(layout: string, platform: { os: string; architecture: string }): RegistryBlob[] {
  const blobs = new Map<string, RegistryBlob>();
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as Document;
  for (const entry of index.manifests ?? []) {
    const ref = entry.annotations?.['org.opencontainers.image.ref.name'];
    if (!ref) throw new Error(`index.json entry ${entry.digest} names no reference`);
    // host/repository[:tag][@digest] -> repository
    const repository = ref
      .replace(/@.*$/, '')
      .replace(/:[^/]*$/, '')
      .replace(/^[^/]*\//, '');
    let top = readDocument(layout, entry.digest);
    if (top.manifests) {
      const child = top.manifests.find(
        (m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture,
      );
      if (!child) throw new Error(`${ref} has no ${platform.os}/${platform.architecture} manifest`);
      top = readDocument(layout, child.digest);
    }
    for (const d of [top.config, ...(top.layers ?? [])])
      if (d && !blobs.has(d.digest)) blobs.set(d.digest, { repository, digest: d.digest, size: d.size });
  }
  return [...blobs.values()];
}

/**
 * Times `xargs -P8 -n2 curl -s -f -o FILE URL` over the blobs, into a temporary folder below
 * `work` that is removed afterwards; throws unless every blob arrived whole.
 */
export async function curlBlobs(host: string, blobs: RegistryBlob[], work: string): Promise<Measure> {
  const dir = join(work, 'curl');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const list = join(work, 'curl.list');
  writeFileSync(
    list,
    blobs
      .map(
        (b) =>
          `${join(dir, b.digest.replace(':', '-'))} http://${host}/v2/${b.repository}/blobs/${b.digest}\n`,
      )
      .join(''),
  );
  try {
    const m = await timed('xargs', ['-a', list, '-P8', '-n2', 'curl', '-s', '-f', '-o']);
    const got = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    const want = blobs.reduce((n, b) => n + b.size, 0);
    if (got !== want) throw new Error(`curl fetched ${got} bytes of ${want}`);
    return m;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(list, { force: true });
  }
}
