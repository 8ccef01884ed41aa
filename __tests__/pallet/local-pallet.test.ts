import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { listPalletImages } from '../../src/pallet/index.js';
import { FIXTURES } from './helpers.js';

const BASIC = join(FIXTURES, 'basic');
const COMPOSE = join(FIXTURES, 'compose');
const refs = (images: { reference: string }[]): string[] => images.map((i) => i.reference);

// Expected lists are written from the rules in docs/forklift-pallets.md, by hand.
const BASIC_COMPOSE = [
  'alpine:3',
  'docker.io/grafana/grafana-image-renderer:3.11.0',
  'docker.io/grafana/grafana:11.3.0',
  'docker.io/library/alpine:3.20',
  'docker.io/library/busybox:1.36',
  'docker.io/library/nginx:1.27-alpine',
];
const BASIC_EXPORTS = ['docker.io/library/alpine:3.20', 'ghcr.io/planktoscope/machine-name:0.1.3'];

describe('local pallet: deployments, packages, features, file exports', () => {
  test('--kind compose equals forklift plt ls-img', async () => {
    const images = await listPalletImages(BASIC, { kind: 'compose' });
    expect(refs(images)).toEqual(BASIC_COMPOSE);
    expect(images.every((i) => i.kind === 'compose')).toBe(true);
  });

  test('--kind file-export: OCI file exports of deployments and enabled features, never host', async () => {
    const images = await listPalletImages(BASIC, { kind: 'file-export' });
    expect(refs(images)).toEqual(BASIC_EXPORTS);
    expect(images.every((i) => i.kind === 'file-export')).toBe(true);
  });

  test('--kind all (default): union, one entry per reference, sorted bytewise', async () => {
    const images = await listPalletImages(BASIC);
    expect(refs(images)).toEqual([
      'alpine:3',
      'docker.io/grafana/grafana-image-renderer:3.11.0',
      'docker.io/grafana/grafana:11.3.0',
      'docker.io/library/alpine:3.20',
      'docker.io/library/busybox:1.36',
      'docker.io/library/nginx:1.27-alpine',
      'ghcr.io/planktoscope/machine-name:0.1.3',
    ]);
    const both = images.find((i) => i.reference === 'docker.io/library/alpine:3.20');
    expect(both?.kind).toBe('compose');
    expect(both?.requiredBy).toEqual([
      {
        deployment: 'apps/both',
        package: '/packages/apps/both',
        file: 'packages/apps/both/compose.yml',
        line: 3,
        service: 'app',
      },
      {
        deployment: 'apps/both',
        package: '/packages/apps/both',
        file: 'packages/apps/both/forklift-package.yml',
        line: 7,
        fileExport: 'overlays/usr/bin/busybox',
      },
      {
        deployment: 'infra/nginx',
        package: '/packages/infra/nginx',
        file: 'packages/infra/nginx/compose.override.yml',
        line: 5,
        service: 'extra',
      },
    ]);
    expect(images.find((i) => i.reference.includes('machine-name'))?.kind).toBe('file-export');
  });

  test('later compose files win per service; features apply in name order; duplicates are harmless', async () => {
    const images = await listPalletImages(BASIC, { kind: 'compose' });
    const grafana = images.find((i) => i.reference === 'docker.io/grafana/grafana:11.3.0');
    expect(grafana?.requiredBy).toEqual([
      {
        deployment: 'apps/grafana',
        package: '/packages/apps/grafana',
        file: 'packages/apps/grafana/compose-renderer.yml',
        line: 3,
        service: 'server',
      },
    ]);
    const busybox = images.find((i) => i.reference === 'docker.io/library/busybox:1.36');
    expect(busybox?.requiredBy).toHaveLength(1);
  });

  test('disabled deployments count only with includeDisabled', async () => {
    const all = await listPalletImages(BASIC, { includeDisabled: true });
    expect(refs(all)).toEqual([
      'alpine:3',
      'docker.io/grafana/grafana-image-renderer:3.11.0',
      'docker.io/grafana/grafana:11.3.0',
      'docker.io/library/alpine:3.20',
      'docker.io/library/busybox:1.36',
      'docker.io/library/nginx:1.27-alpine',
      'docker.io/library/redis:7.4',
      'ghcr.io/example/disabled-export:1.0.0',
      'ghcr.io/planktoscope/machine-name:0.1.3',
    ]);
  });
});

describe('Compose semantics', () => {
  test('anchors, merge keys, multi-document files, !reset/!override, extends, include, interpolation, profiles', async () => {
    const warnings: string[] = [];
    const images = await listPalletImages(COMPOSE, { kind: 'compose', warn: (m) => warnings.push(m) });
    expect(refs(images)).toEqual([
      'example.test/anchors/base:1',
      'example.test/anchors/explicit:1',
      'example.test/anchors/other:1',
      'example.test/extends/base:1',
      'example.test/extends/deep:1',
      'example.test/extends/own:1',
      'example.test/extends/worker:1',
      'example.test/include/app:1',
      'example.test/include/cache:2',
      'example.test/include/db:1',
      'example.test/interp/defaults:1',
      'example.test/interp/dollars:6',
      'example.test/interp/empty:7',
      'example.test/interp/interpolation:4',
      'example.test/interp/nested:5',
      'example.test/interp/plus:3',
      'example.test/interp/unset:2',
      'example.test/multidoc/cache:1',
      'example.test/multidoc/db:1',
      'example.test/multidoc/web:2',
      'example.test/profiles/always:1',
      'example.test/tags/kept:2',
      'example.test/tags/replaced:2',
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^packages\/profiles\/compose\.yml:9: deployment profiles: service builder has no image/,
    );
    expect(warnings[1]).toMatch(
      /^packages\/tags\/compose\.override\.yml:4: deployment tags: service no-image has no image/,
    );
  });

  test('provenance names the file where the winning image was written', async () => {
    const images = await listPalletImages(COMPOSE, { kind: 'compose' });
    const where = (ref: string) => images.find((i) => i.reference === ref)?.requiredBy;
    expect(where('example.test/extends/deep:1')).toEqual([
      {
        deployment: 'extends',
        package: '/packages/extends',
        file: 'packages/extends/more/base.yml',
        line: 3,
        service: 'chained',
      },
    ]);
    expect(where('example.test/include/cache:2')?.[0]?.file).toBe(
      'packages/include/included/cache.override.yml',
    );
    expect(where('example.test/anchors/base:1')?.map((r) => r.service)).toEqual(['aliased', 'merged']);
  });
});
