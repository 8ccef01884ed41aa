import { describe, expect, test } from '@jest/globals';
import { DocumentError, parseConfig, parseManifest } from '../src/oci/parse.js';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const desc = {
  mediaType: 'application/vnd.oci.image.config.v1+json',
  digest: `sha256:${'0'.repeat(64)}`,
  size: 2,
};

describe('manifest documents', () => {
  test('schema 1 is refused with a message that says what to do', () => {
    for (const doc of [
      { schemaVersion: 1, name: 'x', tag: '1', fsLayers: [] },
      { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
    ]) {
      expect(() => parseManifest(json(doc))).toThrow(DocumentError);
      expect(() => parseManifest(json(doc))).toThrow(
        /schema 1 manifest, which is deprecated and not supported: push the image again/,
      );
    }
  });

  test('indexes and manifests are told apart by media type, or by shape when it is absent', () => {
    expect(parseManifest(json({ schemaVersion: 2, manifests: [] })).kind).toBe('index');
    expect(
      parseManifest(
        json({ schemaVersion: 2, manifests: [] }),
        'application/vnd.docker.distribution.manifest.list.v2+json',
      ).mediaType,
    ).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    const m = parseManifest(json({ schemaVersion: 2, config: desc, layers: [] }));
    expect(m.kind).toBe('manifest');
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  test('broken documents say what is wrong', () => {
    expect(() => parseManifest(Buffer.from('{not json'))).toThrow(/not valid JSON/);
    expect(() => parseManifest(json([1]))).toThrow(/not a JSON object/);
    expect(() => parseManifest(json({ schemaVersion: 3 }))).toThrow(/unsupported schemaVersion 3/);
    expect(() =>
      parseManifest(json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json' })),
    ).toThrow(/no config or layers/);
    expect(() => parseConfig(json({ architecture: 'arm64', os: 'linux' }))).toThrow(/no rootfs.diff_ids/);
  });
});
