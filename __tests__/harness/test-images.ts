import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

export interface TestPlatform {
  os: string;
  architecture: string;
  variant?: string;
}

export const PLATFORMS: TestPlatform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
];

export interface Blob {
  digest: string;
  size: number;
  bytes: Buffer;
  mediaType: string;
}

export interface TestLayer extends Blob {
  /** sha256 of the uncompressed tar, as the config's rootfs.diff_ids lists it. */
  diffId: string;
  /** Name of the one file the layer adds. */
  file: string;
}

export interface PlatformImage {
  platform: TestPlatform;
  manifest: Blob;
  config: Blob;
  layers: TestLayer[];
}

export interface TestImage {
  /** The top-level document: an index/list, or the manifest of a single-platform image. */
  top: Blob;
  platforms: PlatformImage[];
  /** Every blob, for pushing. */
  blobs: Blob[];
  /** Manifests the top-level index lists (platforms and attestations), pushed by digest. */
  children: Blob[];
}

export type Flavour = 'oci' | 'docker';

const TYPES = {
  oci: {
    index: 'application/vnd.oci.image.index.v1+json',
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
  docker: {
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
};

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function blob(bytes: Buffer, mediaType: string): Blob {
  return { digest: sha256(bytes), size: bytes.length, bytes, mediaType };
}

/** Deterministic incompressible bytes: AES-CTR keystream keyed by the seed. */
export function pseudoRandom(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

export type Compression = 'gzip' | 'zstd';

/** A real tar holding one file of `size` pseudo-random bytes, gzip- (or zstd-) compressed. */
export function makeLayer(
  seed: string,
  size = 64 * 1024,
  flavour: Flavour = 'oci',
  compression: Compression = 'gzip',
  /** 0 stores the data in gzip framing: the benchmark's gigabytes would take minutes at level 1. */
  gzipLevel = 1,
): TestLayer {
  const file = `data/${seed.replace(/[^a-z0-9._-]/gi, '_')}.bin`;
  const content = pseudoRandom(seed, size);
  const header = new Header({
    path: file,
    mode: 0o644,
    size,
    mtime: new Date(0),
    type: 'File',
    uid: 0,
    gid: 0,
  });
  header.encode();
  const pad = Buffer.alloc((512 - (size % 512)) % 512);
  const tar = Buffer.concat([header.block as Buffer, content, pad, Buffer.alloc(1024)]);
  if (compression === 'zstd') {
    // Debian's zstd command: Node 20 has no zstd compressor.
    const zst = execFileSync('zstd', ['-q', '-c', '-1'], { input: tar, maxBuffer: tar.length * 2 + 1024 });
    return { ...blob(zst, 'application/vnd.oci.image.layer.v1.tar+zstd'), diffId: sha256(tar), file };
  }
  const gz = gzipSync(tar, { level: gzipLevel });
  return { ...blob(gz, TYPES[flavour].layer), diffId: sha256(tar), file };
}

export interface ImageSpec {
  /** Distinguishes this image's own layers from every other image's. */
  seed: string;
  /** Layers shared with other images, per platform (same seed = same blob). */
  base?: (p: TestPlatform) => TestLayer[];
  /** Own layers per platform (default 1). */
  ownLayers?: number;
  layerSize?: number;
  platforms?: TestPlatform[];
  flavour?: Flavour;
  /** A single-platform image: the top-level document is the manifest itself. */
  single?: boolean;
  /** Add a buildx-style attestation entry (unknown/unknown) to the index. */
  attestation?: boolean;
  compression?: Compression;
  /** Write a wrong diff_id for the last layer into the config (a broken image). */
  badDiffId?: boolean;
}

const platformKey = (p: TestPlatform) => [p.os, p.architecture, p.variant].filter(Boolean).join('-');

/** Base layers shared by several images: the same seed always gives the same blobs. */
export function baseLayers(seed: string, count = 2, size = 64 * 1024, flavour: Flavour = 'oci') {
  return (p: TestPlatform) =>
    Array.from({ length: count }, (_, i) => makeLayer(`${seed}-${platformKey(p)}-${i}`, size, flavour));
}

/** Builds a multi-platform image (index + manifest, config and layers per platform). */
export function buildImage(spec: ImageSpec): TestImage {
  const flavour = spec.flavour ?? 'oci';
  const types = TYPES[flavour];
  const platforms = spec.single
    ? [(spec.platforms ?? PLATFORMS)[0] as TestPlatform]
    : (spec.platforms ?? PLATFORMS);
  const built: PlatformImage[] = platforms.map((platform) => {
    const layers = [
      ...(spec.base?.(platform) ?? []),
      ...Array.from({ length: spec.ownLayers ?? 1 }, (_, i) =>
        makeLayer(
          `${spec.seed}-${platformKey(platform)}-own-${i}`,
          spec.layerSize ?? 64 * 1024,
          flavour,
          spec.compression,
        ),
      ),
    ];
    const config = blob(
      Buffer.from(
        JSON.stringify({
          architecture: platform.architecture,
          os: platform.os,
          ...(platform.variant ? { variant: platform.variant } : {}),
          config: { Cmd: ['/bin/true'], Labels: { seed: spec.seed } },
          rootfs: {
            type: 'layers',
            diff_ids: layers.map((l, i) =>
              spec.badDiffId && i === layers.length - 1 ? sha256(Buffer.from('wrong')) : l.diffId,
            ),
          },
          history: layers.map(() => ({ created_by: 'test' })),
        }),
      ),
      types.config,
    );
    const manifest = blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: types.manifest,
          config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
          layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
        }),
      ),
      types.manifest,
    );
    return { platform, manifest, config, layers };
  });
  const blobs: Blob[] = built.flatMap((p) => [p.config, ...p.layers]);
  if (spec.single) {
    return { top: (built[0] as PlatformImage).manifest, platforms: built, blobs, children: [] };
  }
  let attestation: Blob | undefined;
  if (spec.attestation) {
    const empty = blob(Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
    blobs.push(empty);
    attestation = blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: TYPES.oci.manifest,
          config: { mediaType: empty.mediaType, digest: empty.digest, size: empty.size },
          layers: [],
        }),
      ),
      TYPES.oci.manifest,
    );
  }
  const index = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: types.index,
        manifests: [
          ...built.map((p) => ({
            mediaType: p.manifest.mediaType,
            digest: p.manifest.digest,
            size: p.manifest.size,
            platform: p.platform,
          })),
          ...(attestation
            ? [
                {
                  mediaType: attestation.mediaType,
                  digest: attestation.digest,
                  size: attestation.size,
                  platform: { os: 'unknown', architecture: 'unknown' },
                  annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
                },
              ]
            : []),
        ],
      }),
    ),
    types.index,
  );
  const children = [...built.map((p) => p.manifest), ...(attestation ? [attestation] : [])];
  return { top: index, platforms: built, blobs, children };
}

export function platformImage(image: TestImage, p: TestPlatform): PlatformImage {
  const found = image.platforms.find(
    (x) => x.platform.architecture === p.architecture && (x.platform.variant ?? '') === (p.variant ?? ''),
  );
  if (!found) throw new Error(`test image has no ${platformKey(p)}`);
  return found;
}

/**
 * Pushes an image to an anonymous plain-HTTP registry with the distribution API: blobs the
 * registry lacks (monolithic upload), platform manifests by digest, then the top by tag.
 */
export async function pushImage(host: string, name: string, tag: string, image: TestImage): Promise<void> {
  const base = `http://${host}/v2/${name}`;
  for (const b of image.blobs) {
    if ((await fetch(`${base}/blobs/${b.digest}`, { method: 'HEAD' })).status === 200) continue;
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start for ${name}: HTTP ${start.status}`);
    const location = new URL(start.headers.get('location') as string, `http://${host}`);
    location.searchParams.set('digest', b.digest);
    const put = await fetch(location, {
      method: 'PUT',
      body: b.bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (put.status !== 201)
      throw new Error(`upload of ${b.digest} to ${name}: HTTP ${put.status} ${await put.text()}`);
  }
  const putManifest = async (ref: string, m: Blob) => {
    const res = await fetch(`${base}/manifests/${ref}`, {
      method: 'PUT',
      body: m.bytes,
      headers: { 'content-type': m.mediaType },
    });
    if (res.status !== 201)
      throw new Error(`manifest ${ref} of ${name}: HTTP ${res.status} ${await res.text()}`);
  };
  for (const child of image.children) await putManifest(child.digest, child);
  await putManifest(tag, image.top);
}
