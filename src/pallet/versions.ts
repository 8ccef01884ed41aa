import { UserError } from '../util/errors.js';
import type { Loc } from './yaml-values.js';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
}

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseSemVer(text: string): SemVer | undefined {
  const m = SEMVER.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] };
}

export function formatSemVer(v: SemVer): string {
  return `${v.major}.${v.minor}.${v.patch}${v.pre.length ? `-${v.pre.join('.')}` : ''}`;
}

/** Semantic Versioning 2.0 precedence. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] - b[k];
  if (!a.pre.length || !b.pre.length) return b.pre.length - a.pre.length;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The oldest layout this reader understands. */
export const MIN_FORKLIFT_VERSION = 'v0.4.0';

/** Refuses pallets without a forklift-version or older than the layout we know. */
export function checkForkliftVersion(value: unknown, loc: Loc): void {
  if (value === undefined || value === null || value === '') {
    throw new UserError(
      `forklift-version is missing; add "forklift-version: ${MIN_FORKLIFT_VERSION}" (or the version the pallet was written for)`,
      loc,
    );
  }
  const parsed = typeof value === 'string' ? parseSemVer(value) : undefined;
  if (!parsed)
    throw new UserError(
      `forklift-version ${JSON.stringify(value)} is not a version like v0.7.2; fix it`,
      loc,
    );
  if (compareSemVer(parsed, parseSemVer(MIN_FORKLIFT_VERSION) as SemVer) < 0) {
    throw new UserError(
      `forklift-version ${String(value)} is older than ${MIN_FORKLIFT_VERSION}, whose layout is not supported; upgrade the pallet with a newer Forklift`,
      loc,
    );
  }
}
