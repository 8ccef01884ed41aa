import { describe, expect, test } from '@jest/globals';
import { stderrLogger, type Terminal } from '../src/cli/logger.js';
import { Progress } from '../src/pipeline/progress.js';
import type { Logger } from '../src/util/log.js';
import { countingSink } from './harness/hostile-registry.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function screen(isTTY: boolean) {
  let text = '';
  const out: Terminal = { isTTY, write: (s: string | Uint8Array) => ((text += String(s)), true) };
  return { out, text: () => text };
}

describe('progress', () => {
  test('on a terminal: one live line rewritten in place, with rate and time left, erased before other lines', async () => {
    const term = screen(true);
    const logger = stderrLogger('normal', term.out);
    const progress = new Progress(1000, 2, logger, 10_000);
    const tracked = progress.track(countingSink());
    await tracked.write(Buffer.alloc(250));
    await sleep(1100);
    logger.info('web:1: 1.0 MiB (abc), 2 blobs downloaded');
    await tracked.write(Buffer.alloc(250));
    await sleep(1100);
    progress.stop();
    // The erase sequence (carriage return, ESC [K) spelled out, so the patterns stay readable.
    const t = term.text().split('\r\u001b[K').join('<erase>');
    // Live lines carry no newline; every other line starts on an erased line.
    expect(t).toMatch(
      /^downloading: 250 B of 1000 B \(25%\), [\d.]+ [KM]?i?B\/s, 2 layers left, about \d+ s left<erase>web:1/,
    );
    expect(t).toMatch(/downloading: 500 B of 1000 B \(50%\)[^\n]*about \d+ s left<erase>$/);
  });

  test('in a log (no terminal): plain lines at the interval, never control characters', async () => {
    const log = screen(false);
    const logger = stderrLogger('normal', log.out);
    const progress = new Progress(1000, 1, logger, 200);
    await progress.track(countingSink()).write(Buffer.alloc(100));
    await sleep(450);
    progress.stop();
    const lines = log.text().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const l of lines)
      expect(l).toMatch(/^downloading: 100 B of 1000 B \(10%\), .*1 layer left, about \d+ s left$/);
    expect(log.text()).not.toContain('\u001b');
  });

  test('rates are never negative when a blob starts over', async () => {
    const lines: string[] = [];
    const logger: Logger = { info: (m) => lines.push(m), warn() {}, debug() {}, secret() {} };
    const progress = new Progress(1000, 1, logger, 100);
    const tracked = progress.track(countingSink());
    await tracked.write(Buffer.alloc(400));
    await sleep(150);
    await tracked.reset();
    await sleep(150);
    progress.stop();
    for (const l of lines) expect(l).not.toMatch(/-\d/);
  });
});
