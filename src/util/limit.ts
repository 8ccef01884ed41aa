/** Runs at most `max` tasks at once; the rest wait in arrival order. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`concurrency must be a positive integer, got ${max}`);
  }

  /** Tasks running now (for tests and progress). */
  get running(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      // The finishing task hands its slot straight to us (active is not decremented), so a
      // caller arriving between that release and our wake-up cannot slip in.
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
