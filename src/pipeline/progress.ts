import type { BlobSink } from '../registry/client.js';
import { formatBytes, type Logger } from '../util/log.js';

/**
 * Overall download progress for long pulls: a line every interval (bytes done / total, rate,
 * blobs left), plain text that reads well in non-TTY Actions logs. Silent for short pulls.
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
    if (blobs > 0 && intervalMs > 0) {
      this.timer = setInterval(() => this.report(), intervalMs);
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
    this.logger.info(
      `downloading: ${formatBytes(this.done)} of ${formatBytes(this.total)} (${pct}%), ${formatBytes(rate)}/s, ` +
        `${this.blobsLeft} blobs left, ${Math.round((now - this.started) / 1000)} s elapsed`,
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
