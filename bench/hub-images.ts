/**
 * A pallet's images as Docker Hub serves them: multi-platform (amd64, arm64) indexes, one
 * repository each, most built on a few popular bases (debian, and node and python on top of
 * it; alpine), each with two small layers of its own.
 */
import {
  buildImage,
  makeLayer,
  pushImage,
  type TestLayer,
  type TestPlatform,
} from '../__tests__/harness/test-images.js';
import { parallel } from './measure.js';

const MB = 1024 * 1024;
const PLATFORMS: TestPlatform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

/** Layers of the bases, by name: node and python share debian's. */
const BASES: Record<string, [string, number][]> = {
  alpine: [['alpine', 3 * MB]],
  debian: [['debian', 20 * MB]],
  node: [
    ['debian', 20 * MB],
    ['node', 10 * MB],
  ],
  python: [
    ['debian', 20 * MB],
    ['python', 8 * MB],
  ],
};

/** Stored gzip (level 0): random bytes do not compress, and level 1 would take minutes. */
const layer = (seed: string, size: number) => makeLayer(seed, size, 'oci', 'gzip', 0);

/** Pushes `count` images to `pushHost` and returns their repository:tag names. */
export async function pushHubImages(pushHost: string, count: number): Promise<string[]> {
  const cache = new Map<string, TestLayer>();
  const shared = (seed: string, size: number) => {
    if (!cache.has(seed)) cache.set(seed, layer(seed, size));
    return cache.get(seed) as TestLayer;
  };
  const names = Object.keys(BASES);
  const repos = Array.from({ length: count }, (_, i) => `hub/${names[i % names.length]}-app${i}:1`);
  await parallel(
    repos.map((repo, i) => ({ repo, i })),
    4,
    async ({ repo, i }) => {
      const base = BASES[names[i % names.length] as string] ?? [];
      const image = buildImage({
        seed: `hub-${i}`,
        platforms: PLATFORMS,
        ownLayers: 0,
        base: (p) => [
          ...base.map(([seed, size]) => shared(`${seed}-${p.architecture}`, size)),
          layer(`hub-${i}-${p.architecture}-app`, (1 + (i % 4)) * MB),
          layer(`hub-${i}-${p.architecture}-config`, 256 * 1024),
        ],
      });
      const [name, tag] = repo.split(':') as [string, string];
      await pushImage(pushHost, name, tag, image);
    },
  );
  return repos;
}
