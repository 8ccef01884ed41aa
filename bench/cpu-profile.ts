/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the main thread's time went, by
 * category (hashing, file writes and reads, HTTP parsing, garbage collection, start-up, idle)
 * and by function. Sampled time includes time the thread was preempted, so on a busy machine
 * compare shares, not milliseconds.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** First match wins; a frame is `function@file`. */
const CATEGORIES: [string, RegExp][] = [
  ['idle (waiting for I/O)', /^\(idle\)@/],
  ['garbage collection', /^\(garbage collector\)@/],
  ['sha256 (hash.update)', /^(update|digest)@hash$/],
  ['file writes (fs write/writev)', /^(writeBuffers?|writev|write|writeAll\w*)@(|promises)$/],
  ['file reads (fs read, read streams)', /^read@$|@readable$/],
  [
    'HTTP parsing (undici llhttp)',
    /^(execute|wasm_\w+|readMore|onHttpSocketReadable|onBody|onData)@index\.js$|wasm/,
  ],
  ['start-up (module loading)', /^(compile\w*|__nccwpck_require__|__require|requireBuiltin)@/],
];

export interface ProfileSummary {
  totalMs: number;
  categories: { name: string; ms: number; share: number }[];
  functions: { name: string; ms: number; share: number }[];
}

export function summariseProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000),
  );
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const frame = (nodes.get(id) as ProfileNode).callFrame;
    const file = frame.url
      .replace(/.*[/:]/, '')
      .replace(/\.js$/, (m) => (frame.url.startsWith('node:') ? '' : m));
    const key = `${frame.functionName || '(anonymous)'}@${file}`;
    const category = CATEGORIES.find(([, re]) => re.test(key))?.[0] ?? 'other JavaScript';
    byCategory.set(category, (byCategory.get(category) ?? 0) + ms);
    const where = `${key}:${frame.lineNumber + 1}`;
    byFunction.set(where, (byFunction.get(where) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, ms, share: ms / totalMs }));
  return { totalMs, categories: rank(byCategory), functions: rank(byFunction).slice(0, top) };
}

export function profileTable(summary: ProfileSummary): string {
  const row = (r: { name: string; ms: number; share: number }) =>
    `| ${r.name} | ${r.ms.toFixed(0)} | ${(r.share * 100).toFixed(1)} % |`;
  return [
    '| main thread, by category | ms sampled | share |',
    '| --- | --- | --- |',
    ...summary.categories.map(row),
    '',
    '| main thread, by function (self) | ms sampled | share |',
    '| --- | --- | --- |',
    ...summary.functions.map(row),
  ].join('\n');
}
