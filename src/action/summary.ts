import * as core from '@actions/core';
import { shortDigest } from '../oci/digest.js';
import type { JobSummary } from '../pipeline/summary.js';
import { formatBytes } from '../util/log.js';

/** Text from a pallet or a registry goes into HTML: escape all of it. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** Sizes never wrap: the unit stays with its number. */
const size = (n: number) => formatBytes(n).replace(' ', '&nbsp;');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}&nbsp;s`;
const code = (text: string) => `<code>${escapeHtml(text)}</code>`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The job summary as HTML: a table that fits 1200 px, then what changed, totals and times. */
export function renderSummary(s: JobSummary): string {
  const parts: string[] = [];
  parts.push(`<h3>cache-images: ${plural(s.rows.length, 'image')} for ${escapeHtml(s.platform)}</h3>`);
  if (s.pallet) parts.push(`<p>Pallet ${code(s.pallet)}</p>`);
  if (s.error) parts.push(`<p><strong>Failed:</strong> ${escapeHtml(s.error)}</p>`);
  parts.push(table(s));
  parts.push(changes(s));
  if (s.totals) {
    const t = s.totals;
    parts.push(
      `<p>${size(t.uniqueBytes)} of distinct blobs (layers shared by several images count once); ` +
        `downloaded ${size(t.downloadedBytes)} in ${plural(t.blobsDownloaded, 'blob')}, reused ${plural(t.blobsReused, 'blob')} already in the layout` +
        (s.archives.length ? `; archives ${size(t.archiveBytes)}` : '') +
        '.</p>',
    );
  }
  if (s.cache) {
    const c = s.cache;
    const hit = {
      exact: 'restored under this exact key',
      prefix: `restored from the older entry ${code(c.matchedKey ?? '')}`,
      miss: 'no entry yet',
      unavailable: 'unavailable (the cache service did not answer)',
    }[c.hit];
    parts.push(`<p>Cache key ${code(c.key)}: ${hit}${c.saved ? '; saved' : ''}.</p>`);
  }
  for (const a of s.archives) parts.push(`<p>Archive ${code(a.path)}: ${size(a.size)}</p>`);
  if (s.imageStore) parts.push(imageStore(s.imageStore));
  if (s.untagged.length) {
    parts.push(
      `<p>Docker's classic image store loads digest-only references untagged: ${s.untagged.map(code).join(', ')}. ` +
        'Pin them as <code>name:tag@sha256:...</code> to load them by name.</p>',
    );
  }
  if (s.phases.length) {
    const times = s.phases.map((p) => `${escapeHtml(p.name)} ${seconds(p.ms)}`).join(' · ');
    parts.push(`<p>Time: ${seconds(s.totalMs)} in all: ${times}.</p>`);
  }
  return parts.join('\n');
}

function table(s: JobSummary): string {
  const head = ['image', 'digest', 'size', 'from', 'required by'].map((h) => `<th>${h}</th>`).join('');
  const rows = s.rows.map((r) => {
    const digest = r.digest
      ? `<code title="${escapeHtml(r.digest)}">${escapeHtml(r.shortDigest ?? '')}</code>`
      : '';
    const cells = [
      `<code title="${escapeHtml(r.image)}">${escapeHtml(shortenPins(r.image))}</code>`,
      digest,
      r.size === undefined ? '' : size(r.size),
      r.from,
      escapeHtml(r.requiredBy.join(', ') || '(extra image)'),
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  const full = s.rows.filter((r) => r.digest).map((r) => `${code(r.image)} ${code(r.digest ?? '')}`);
  const details = full.length
    ? `\n<details><summary>Full digests</summary>\n\n${full.join('<br>\n')}\n</details>`
    : '';
  return `<table><tr>${head}</tr>${rows.join('')}</table>${details}`;
}

function imageStore(st: NonNullable<JobSummary['imageStore']>): string {
  const how =
    st.from === 'restored' ? 'restored from the cache (no engine started)' : `built in ${seconds(st.ms)}`;
  const kind = `${st.engine} ${st.engineVersion}, ${st.storageDriver}${st.namespace ? `, namespace ${st.namespace}` : ''}`;
  return (
    `<p>Image store ${code(st.path)}: ${plural(st.images, 'image')}, ${size(st.size)}, ${escapeHtml(kind)}; ${how}. ` +
    `Extract with ${code(st.extract)}.</p>\n<p>${escapeHtml(st.requirement)}.</p>`
  );
}

/** A pinned reference's 64-hex digest is cut to 12 (the full one is in the cell's title and below). */
function shortenPins(reference: string): string {
  return reference.replace(/@(sha256:[0-9a-f]{12})[0-9a-f]{52}/, '@$1…');
}

function changes(s: JobSummary): string {
  if (s.noChange) return '<p>No change since the cached layout.</p>';
  const c = s.changes;
  if (!c) return '';
  const lines = [
    ...c.added.map((i) => `added ${code(i.reference)} ${code(shortDigest(i.digest))} (${size(i.size)})`),
    ...c.updated.map(
      (u) =>
        `updated ${code(u.reference)} ${code(shortDigest(u.from))} → ${code(shortDigest(u.to))} (${u.sizeChange >= 0 ? '+' : '−'}${size(Math.abs(u.sizeChange))})`,
    ),
    ...c.removed.map((i) => `removed ${code(i.reference)} ${code(shortDigest(i.digest))}`),
  ];
  return `<p><strong>Changes since the restored layout</strong> (${c.unchanged} unchanged):<br>\n${lines.join('<br>\n')}</p>`;
}

export async function writeSummary(s: JobSummary): Promise<void> {
  await core.summary.addRaw(renderSummary(s), true).write();
}
