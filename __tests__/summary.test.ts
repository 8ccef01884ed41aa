import { describe, expect, test } from '@jest/globals';
import { renderSummary } from '../src/action/summary.js';
import { layoutChanges } from '../src/pipeline/changes.js';
import { oneFailure } from '../src/pipeline/failures.js';
import type { JobReport } from '../src/pipeline/job.js';
import { isUntagged, summarizeFailure, summarizeRun } from '../src/pipeline/summary.js';
import { UserError } from '../src/util/errors.js';
import { silentLogger, type Logger } from '../src/util/log.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('layoutChanges', () => {
  test('added, removed and updated references with the size difference; the rest counted unchanged', () => {
    const before = [
      { reference: 'a:1', digest: d('a'), size: 100 },
      { reference: 'b:1', digest: d('b'), size: 200 },
      { reference: 'gone:1', digest: d('c'), size: 5 },
    ];
    const after = [
      { reference: 'new:1', digest: d('e'), size: 7 },
      { reference: 'b:1', digest: d('f'), size: 150 },
      { reference: 'a:1', digest: d('a'), size: 100 },
    ];
    expect(layoutChanges(before, after)).toEqual({
      added: [{ reference: 'new:1', digest: d('e'), size: 7 }],
      removed: [{ reference: 'gone:1', digest: d('c'), size: 5 }],
      updated: [{ reference: 'b:1', from: d('b'), to: d('f'), sizeChange: -50 }],
      unchanged: 1,
    });
  });
});

describe('isUntagged', () => {
  test.each([
    ['alpine@' + d('a'), true],
    ['ghcr.io/x/y@' + d('a'), true],
    ['127.0.0.1:5000/x@' + d('a'), true],
    ['alpine:3@' + d('a'), false],
    ['127.0.0.1:5000/x:1', false],
  ])('%s: %s', (reference, untagged) => expect(isUntagged(reference)).toBe(untagged));
});

function report(overrides: Partial<JobReport> = {}): JobReport {
  return {
    platform: 'linux/arm64',
    layout: '/l',
    images: [
      {
        reference: 'ghcr.io/o/app:1',
        digest: d('1'),
        platformDigest: d('2'),
        platform: 'linux/arm64',
        size: 3 * 1024 * 1024,
        source: 'layout',
        blobs: { fromLayout: 4, fromRegistry: 0 },
        downloadedBytes: 0,
      },
      {
        reference: 'x@' + d('9'),
        digest: d('9'),
        platformDigest: d('8'),
        platform: 'linux/arm64',
        size: 10,
        source: 'registry',
        stale: true,
        blobs: { fromLayout: 0, fromRegistry: 3 },
        downloadedBytes: 10,
      },
    ],
    totals: {
      images: 2,
      size: 3 * 1024 * 1024 + 10,
      uniqueBytes: 3 * 1024 * 1024,
      downloadedBytes: 10,
      blobsFromLayout: 4,
      blobsFromRegistry: 3,
      garbageBlobs: 0,
      garbageBytes: 0,
    },
    archives: [{ path: '/a.tar', size: 2048, references: [] }],
    cache: { key: 'k-1', hit: 'prefix', matchedKey: 'k-0', saved: true },
    changes: {
      added: [],
      removed: [],
      updated: [{ reference: 'ghcr.io/o/app:1', from: d('0'), to: d('1'), sizeChange: 1024 }],
      unchanged: 1,
    },
    phases: [{ name: 'Pull images', startMs: 100, ms: 1500 }],
    ...overrides,
  };
}

const pallet = [
  {
    reference: 'ghcr.io/o/app:1',
    kind: 'compose' as const,
    requiredBy: [{ deployment: '<script>x</script>', package: '/p', file: 'c.yml' }],
  },
];

describe('summarizeRun and renderSummary', () => {
  test('rows say where each image came from, short top-level digests with the full one kept, required by', () => {
    const s = summarizeRun(report(), pallet);
    expect(s.rows.map((r) => [r.image, r.shortDigest, r.from, r.requiredBy])).toEqual([
      ['ghcr.io/o/app:1', '1'.repeat(12), 'cache', ['<script>x</script>']],
      ['x@' + d('9'), '9'.repeat(12), 'stale', []],
    ]);
    expect(s.untagged).toEqual(['x@' + d('9')]);
    expect(s.noChange).toBe(false);
  });

  test('the HTML escapes what pallets and registries wrote, keeps sizes on one line, shows changes and times', () => {
    const html = renderSummary(summarizeRun(report(), pallet));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(html).toContain('3.0&nbsp;MiB');
    expect(html).toMatch(
      /updated <code>ghcr.io\/o\/app:1<\/code> <code>0{12}<\/code> → <code>1{12}<\/code> \(\+1.0&nbsp;KiB\)/,
    );
    expect(html).toContain(`title="${d('1')}"`);
    expect(html).toContain('Time: 1.6&nbsp;s in all: Pull images 1.5&nbsp;s');
    expect(html).toContain('restored from the older entry <code>k-0</code>');
    // No digest longer than 12 hex characters in the table itself.
    const tableHtml = html.slice(html.indexOf('<table>'), html.indexOf('</table>'));
    expect(tableHtml.replace(/title="[^"]*"/g, '')).not.toMatch(/[0-9a-f]{13}/);
    expect(tableHtml).toContain(`x@sha256:${'9'.repeat(12)}…`);
  });

  test('an exact hit says "no change"', () => {
    const s = summarizeRun(
      report({ cache: { key: 'k', hit: 'exact', matchedKey: 'k', saved: false } }),
      pallet,
    );
    expect(renderSummary(s)).toContain('No change since the cached layout.');
  });

  test('a failed run still shows what it knew, with the error', () => {
    const s = summarizeFailure(
      {
        references: ['ghcr.io/o/app:1'],
        pallet,
        phases: [{ name: 'Resolve the image list', startMs: 0, ms: 20 }],
      },
      'linux/arm64',
      'image ghcr.io/o/app:1 (registry ghcr.io): not found',
    );
    const html = renderSummary(s);
    expect(html).toContain('<strong>Failed:</strong> image ghcr.io/o/app:1 (registry ghcr.io): not found');
    expect(html).toContain('not pulled');
  });
});

describe('oneFailure', () => {
  test('images failing for one registry-wide cause make one error naming them all', () => {
    const warned: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => warned.push(m) };
    const dns = (image: string) =>
      new UserError(`image ${image} (registry docker.io): the name registry-1.docker.io did not resolve`, {
        code: 'dns',
        image,
        registry: 'docker.io',
      });
    const err = oneFailure([dns('a:1'), dns('b:1'), dns('c:1')], logger) as UserError;
    expect(err.message).toContain('and 2 more images of that registry: b:1, c:1');
    expect(warned).toEqual([]);
  });

  test('distinct failures: the first is thrown, the others warned once each', () => {
    const warned: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => warned.push(m) };
    const a = new UserError('a not found', { code: 'not-found', image: 'a', registry: 'r' });
    const b = new UserError('b not found', { code: 'not-found', image: 'b', registry: 'r' });
    expect(oneFailure([a, b], logger)).toBe(a);
    expect(warned).toEqual(['b not found']);
  });
});
