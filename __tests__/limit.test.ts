import { describe, expect, test } from '@jest/globals';
import { Limiter } from '../src/util/limit.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Limiter', () => {
  test('a caller arriving between a release and the hand-off does not get a slot too', async () => {
    const limiter = new Limiter(1);
    let now = 0;
    let peak = 0;
    const task = async () => {
      now++;
      peak = Math.max(peak, now);
      await tick();
      now--;
    };
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const firstTask = gate.then(() => void now--);
    const first = limiter.run(() => {
      now++;
      peak = Math.max(peak, now);
      return firstTask;
    });
    const queued = limiter.run(task);
    // Registered after the limiter's own wait on the first task: runs right after the limiter
    // releases that slot, before the queued caller wakes up.
    const late = firstTask.then(() => limiter.run(task));
    open();
    await Promise.all([first, queued, late]);
    expect(peak).toBe(1);
  });

  test('never runs more than its limit under many callers, and runs them all in arrival order', async () => {
    const limiter = new Limiter(3);
    let peak = 0;
    const order: number[] = [];
    const runs = Array.from({ length: 50 }, (_, i) =>
      limiter.run(async () => {
        peak = Math.max(peak, limiter.running);
        order.push(i);
        for (let k = 0; k < (i % 4) + 1; k++) await tick();
      }),
    );
    // Extra callers keep arriving while slots are released.
    const extra = runs.map((p, i) =>
      p.then(() => limiter.run(async () => void (peak = Math.max(peak, limiter.running)))).then(() => i),
    );
    await Promise.all([...runs, ...extra]);
    expect(peak).toBeLessThanOrEqual(3);
    expect(order.slice(0, 3)).toEqual([0, 1, 2]);
    expect(order).toHaveLength(50);
  });

  test('a failing task frees its slot', async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limiter.run(async () => 42)).resolves.toBe(42);
    expect(limiter.running).toBe(0);
  });

  test('refuses a limit that is not a positive integer', () => {
    expect(() => new Limiter(0)).toThrow(/positive integer/);
  });
});
