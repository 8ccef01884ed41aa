import type { Logger } from '../util/log.js';
import { isRetryableError, sleep } from './transport.js';

/** Where a blob's bytes go: the layout's BlobWriter satisfies it. */
export interface BlobSink {
  readonly written: number;
  write(chunk: Buffer): Promise<void>;
  reset(): Promise<void>;
}

export interface ResumePolicy {
  /** Failures in a row without new bytes before giving up. */
  attempts: number;
  backoff(attempt: number): number;
  logger: Logger;
}

/** Why a download gave up: how often, where the cuts fell, the last error. */
export class ResumeExhausted extends Error {
  constructor(
    readonly failures: number,
    /** Where each attempt ended, as received. */
    readonly cuts: number[],
    readonly furthest: number,
    readonly last: unknown,
  ) {
    super('download kept failing');
    this.name = 'ResumeExhausted';
  }
}

/**
 * Streams into `sink` through `attempt(offset)` (which opens the body at `offset` or at 0 and
 * says where it starts), retrying cut or stalled bodies. Only bytes past the furthest offset
 * ever reached count as progress: a server that ignores Range and cuts at the same byte every
 * time, or announces more than it sends, runs out of attempts instead of looping forever.
 * Progress earns fresh attempts, but never more than `attempts` x 4 tries in all, so a
 * server that dribbles a few new bytes per connection is bounded too.
 */
export async function streamWithResume(
  sink: BlobSink,
  attempt: (offset: number) => Promise<AsyncIterable<Buffer> & { destroy(): unknown }>,
  policy: ResumePolicy,
  label: string,
): Promise<void> {
  let furthest = sink.written;
  let failures = 0;
  const cuts: number[] = [];
  for (let tries = 1; ; tries++) {
    const body = await attempt(sink.written);
    try {
      for await (const chunk of body) await sink.write(chunk);
      return;
    } catch (err) {
      body.destroy();
      if (!isRetryableError(err)) throw err;
      cuts.push(sink.written);
      if (sink.written > furthest) {
        furthest = sink.written;
        failures = 1;
      } else failures++;
      if (failures >= policy.attempts || tries >= policy.attempts * 4)
        throw new ResumeExhausted(failures, cuts, furthest, err);
      const wait = policy.backoff(failures);
      policy.logger.debug(`${label} cut at ${sink.written} bytes; resuming in ${wait} ms`);
      await sleep(wait);
    }
  }
}
