import { shortDigest } from '../oci/digest.js';
import type { RequiredImage } from '../pallet/index.js';
import { parseReference } from '../references/reference.js';
import type { LayoutChanges } from './changes.js';
import type { JobReport, JobState, PhaseTime } from './job.js';
import { deviceRequirement } from '../store/index.js';
import type { CacheOutcome } from './restore.js';
import type { StoreOutcome } from './store-stage.js';

/** Where an image's bytes came from, as the summary says it. */
export type ImageOrigin = 'cache' | 'registry' | 'layout' | 'stale' | 'not pulled';

export interface SummaryRow {
  /** The reference as written in the pallet (or given as an extra image). */
  image: string;
  digest?: string;
  shortDigest?: string;
  size?: number;
  from: ImageOrigin;
  /** Deployments requiring it; empty for an extra image. */
  requiredBy: string[];
}

export interface SummaryTotals {
  images: number;
  /** Bytes of the distinct blobs the images need (what the layout holds). */
  uniqueBytes: number;
  downloadedBytes: number;
  blobsDownloaded: number;
  blobsReused: number;
  /** Bytes of the archives written. */
  archiveBytes: number;
}

/** Everything a job summary shows, computed without any output format in mind. */
export interface JobSummary {
  platform: string;
  /** The pallet read: its folder, or `path@version (commit)`. */
  pallet?: string;
  rows: SummaryRow[];
  totals?: SummaryTotals;
  /** Changes against the restored layout; `exact` hits say "no change". */
  changes?: LayoutChanges;
  noChange: boolean;
  cache?: CacheOutcome;
  archives: { path: string; size: number }[];
  /** The device's image store: where, built or restored, and what the device must run. */
  imageStore?: {
    path: string;
    from: 'built' | 'restored';
    ms: number;
    engine: string;
    engineVersion: string;
    storageDriver: string;
    namespace?: string;
    images: number;
    size: number;
    requirement: string;
    extract: string;
  };
  phases: PhaseTime[];
  totalMs: number;
  /** Digest-only references: Docker's classic store loads them untagged. */
  untagged: string[];
  /** The error a failed run stopped on. */
  error?: string;
}

/** The summary of a finished run. */
export function summarizeRun(report: JobReport, pallet: RequiredImage[]): JobSummary {
  const rows = report.images.map<SummaryRow>((i) => ({
    image: i.reference,
    digest: i.digest,
    shortDigest: shortDigest(i.digest),
    size: i.size,
    from: origin(i.source, i.stale, report.cache),
    requiredBy: requiredBy(pallet, i.reference),
  }));
  const t = report.totals;
  return {
    platform: report.platform,
    pallet: report.pallet,
    rows,
    totals: {
      images: t.images,
      uniqueBytes: t.uniqueBytes,
      downloadedBytes: t.downloadedBytes,
      blobsDownloaded: t.blobsFromRegistry,
      blobsReused: t.blobsFromLayout,
      archiveBytes: report.archives.reduce((n, a) => n + a.size, 0),
    },
    changes: report.changes,
    noChange: report.cache?.hit === 'exact' || isEmpty(report.changes),
    cache: report.cache,
    archives: report.archives.map((a) => ({ path: a.path, size: a.size })),
    ...(report.imageStore ? { imageStore: storeSummary(report.imageStore) } : {}),
    phases: report.phases,
    totalMs: wallTime(report.phases),
    untagged: report.archives.length ? report.images.map((i) => i.reference).filter(isUntagged) : [],
  };
}

/** The summary of a run that failed: what it knew, and why it stopped. */
export function summarizeFailure(state: JobState, platform: string, error: string): JobSummary {
  const pallet = state.pallet ?? [];
  return {
    platform,
    pallet: state.source,
    rows: (state.references ?? []).map((image) => ({
      image,
      from: 'not pulled',
      requiredBy: requiredBy(pallet, image),
    })),
    noChange: false,
    cache: state.cache,
    archives: [],
    phases: state.phases,
    totalMs: wallTime(state.phases),
    untagged: [],
    error,
  };
}

function origin(
  source: 'layout' | 'registry',
  stale: boolean | undefined,
  cache?: CacheOutcome,
): ImageOrigin {
  if (stale) return 'stale';
  if (source === 'registry') return 'registry';
  return cache?.hit === 'exact' || cache?.hit === 'prefix' ? 'cache' : 'layout';
}

function requiredBy(pallet: RequiredImage[], reference: string): string[] {
  return [
    ...new Set(pallet.find((p) => p.reference === reference)?.requiredBy.map((r) => r.deployment) ?? []),
  ];
}

/** A reference with no tag (only a digest) has no name:tag to load under. */
export function isUntagged(reference: string): boolean {
  try {
    return parseReference(reference).tag === undefined;
  } catch {
    return false;
  }
}

function isEmpty(c: LayoutChanges): boolean {
  return c.added.length === 0 && c.removed.length === 0 && c.updated.length === 0;
}

/** From the first phase's start to the last one's end: overlapping phases count once. */
function wallTime(phases: PhaseTime[]): number {
  return phases.reduce((end, p) => Math.max(end, p.startMs + p.ms), 0);
}

function storeSummary(s: StoreOutcome): NonNullable<JobSummary['imageStore']> {
  const m = s.manifest;
  return {
    path: s.path,
    from: s.from,
    ms: s.ms,
    engine: m.engine,
    engineVersion: m.engineVersion,
    storageDriver: m.storageDriver,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    images: m.images.length,
    size: m.size,
    requirement: deviceRequirement(m),
    extract: m.extract,
  };
}
