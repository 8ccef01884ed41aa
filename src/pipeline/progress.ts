import type { BlobSink } from '../registry/client.js';
import { formatBytes, type Logger } from '../util/log.js';

/**
 * Overall download progress: on a terminal (a logger with `status`) one live line rewritten
 * every second; elsewhere (CI logs) a plain line every interval. Both give bytes done of the
 * total, the rate, what is left and the time still to go.
 */
export class Progress {
  private done = 0;
  /** Bytes received, never taken back: a restarted blob's bytes were still transferred, so the rate counts them. */
  private received = 0;
  private blobsLeft: number;
  private readonly started = Date.now();
  private lastBytes = 0;
  private lastTime = Date.now();
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly total: number,
    blobs: number,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.blobsLeft = blobs;
    const every = logger.status ? Math.min(intervalMs, 1000) : intervalMs;
    if (blobs > 0 && every > 0) {
      this.timer = setInterval(() => this.report(), every);
      this.timer.unref();
    }
  }

  /** Wraps a sink so its bytes count towards the total (and a restart takes them back). */
  track(sink: BlobSink): BlobSink {
    const counter = { sink, progress: this };
    // A resumed download starts with the bytes an earlier run left: they count as done.
    this.done += sink.written;
    return {
      get written() {
        return counter.sink.written;
      },
      async write(chunk) {
        await counter.sink.write(chunk);
        counter.progress.done += chunk.length;
        counter.progress.received += chunk.length;
      },
      async reset() {
        counter.progress.done -= counter.sink.written;
        await counter.sink.reset();
      },
    };
  }

  blobDone(): void {
    this.blobsLeft--;
  }

  private report(): void {
    const now = Date.now();
    const rate = ((this.received - this.lastBytes) * 1000) / Math.max(1, now - this.lastTime);
    this.lastBytes = this.received;
    this.lastTime = now;
    const pct = this.total ? Math.floor((this.done * 100) / this.total) : 100;
    const line =
      `downloading: ${formatBytes(this.done)} of ${formatBytes(this.total)} (${pct}%), ${formatBytes(rate)}/s, ` +
      `${this.blobsLeft} ${this.blobsLeft === 1 ? 'layer' : 'layers'} left, ${eta(this.total - this.done, this.done, now - this.started)}`;
    if (this.logger.status) this.logger.status(line);
    else this.logger.info(line);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.logger.status?.('');
  }
}

/** The time still to go at the average rate so far: `about 12 s left`. */
function eta(left: number, done: number, elapsedMs: number): string {
  if (done <= 0 || left <= 0) return `${Math.round(elapsedMs / 1000)} s elapsed`;
  const seconds = Math.ceil((left * elapsedMs) / done / 1000);
  return seconds >= 120 ? `about ${Math.round(seconds / 60)} min left` : `about ${seconds} s left`;
}
