// Renders the job summary of a run with a moved tag (the shape a PlanktoScope pallet gives:
// long pinned references) to HTML with GitHub's width, and, when Chromium is installed, to a
// PNG at 1200 px, to look at: `npm run build && node scripts/summary-preview.js OUT_DIR`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderSummary } from '../lib/action/summary.js';
import { summarizeRun } from '../lib/pipeline/summary.js';

const out = resolve(process.argv[2] ?? '.tmp/summary-preview');
mkdirSync(out, { recursive: true });
const hex = (c) => c.repeat(64);
const names = ['segmenter', 'backend', 'node-red', 'grafana', 'caddy-ingress', 'machine-name'];
const images = names.map((n, i) => ({
  reference: `ghcr.io/planktoscope/${n}:v2025.0.${i}@sha256:${hex(String(i))}`,
  digest: `sha256:${hex(String(i))}`,
  platformDigest: `sha256:${hex('a')}`,
  platform: 'linux/arm64',
  size: (i + 1) * 97 * 1024 * 1024 + 12345,
  source: i === 1 ? 'registry' : 'layout',
  blobs: { fromLayout: 5, fromRegistry: i === 1 ? 3 : 0 },
  downloadedBytes: i === 1 ? 42 * 1024 * 1024 : 0,
}));
const report = {
  pallet: `github.com/PlanktoScope/pallet-standard@v2025.0.0 (${'3'.repeat(40)})`,
  platform: 'linux/arm64',
  layout: '/home/runner/work/_temp/cache-images/layout',
  images,
  totals: {
    images: 6,
    size: 2e9,
    uniqueBytes: 1.6e9,
    downloadedBytes: 44e6,
    blobsFromLayout: 30,
    blobsFromRegistry: 3,
    garbageBlobs: 3,
    garbageBytes: 40e6,
  },
  archives: [{ path: '/home/runner/work/_temp/images.tar', size: 1.62e9, references: [] }],
  cache: {
    key: `cache-images-linux-arm64-${'b'.repeat(32)}`,
    hit: 'prefix',
    matchedKey: `cache-images-linux-arm64-${'c'.repeat(32)}`,
    saved: true,
  },
  changes: {
    added: [],
    removed: [],
    updated: [
      {
        reference: images[1].reference.replace(/@.*/, ''),
        from: `sha256:${hex('d')}`,
        to: images[1].digest,
        sizeChange: 3 * 1024 * 1024,
      },
    ],
    unchanged: 5,
  },
  phases: [
    { name: 'Resolve the image list', startMs: 0, ms: 1200 },
    { name: 'Restore the layout from the cache', startMs: 1200, ms: 9100 },
    { name: 'Pull images', startMs: 10300, ms: 3400 },
    { name: 'Write archives', startMs: 13700, ms: 6100 },
    { name: 'Save the layout to the cache', startMs: 13700, ms: 21000 },
  ],
};
const pallet = images.map((i, n) => ({
  reference: i.reference,
  kind: 'compose',
  requiredBy: [{ deployment: `apps/${names[n]}`, package: `/packages/${names[n]}`, file: 'compose.yml' }],
}));
const html = renderSummary(summarizeRun(report, pallet));
// GitHub renders the summary in a column of about 1012 px on a 1200 px window.
const page = `<!doctype html><meta charset="utf-8"><style>body{font:14px -apple-system,Segoe UI,sans-serif;max-width:1012px;margin:16px auto}table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:6px 13px}code{font-size:85%;background:#eff1f3;padding:.2em .4em;border-radius:6px}</style>${html}`;
const file = join(out, 'summary.html');
writeFileSync(file, page);
console.log(`wrote ${file}`);
if (existsSync('/usr/bin/chromium')) {
  const png = join(out, 'summary.png');
  execFileSync(
    '/usr/bin/chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--screenshot=${png}`,
      '--window-size=1200,900',
      `file://${file}`,
    ],
    { stdio: 'ignore' },
  );
  console.log(`wrote ${png}`);
}
