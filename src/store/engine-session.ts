import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import type { Daemon } from './daemon.js';
import { releaseMounts } from './mounts.js';

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** How long an engine gets to stop cleanly before it is killed (dockerd needs about 3 s). */
export const STOP_GRACE_MS = 30_000;

/**
 * Everything a store build starts: a private folder (short, under TMPDIR: it holds unix
 * sockets), the daemons, and cleanups. `close` stops the daemons newest first, releases their
 * mounts and removes the folder; it runs once, whether the build succeeds, fails or is
 * interrupted by a signal (then the signal is raised again so the process ends as it would have).
 */
export class EngineSession {
  readonly abort = new AbortController();
  private readonly daemons: Daemon[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];
  private closing?: Promise<void>;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.logger.warn(`${signal}: stopping the private engine before exiting`);
    this.abort.abort();
    void this.close().finally(() => process.kill(process.pid, signal));
  };

  private constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {
    for (const s of SIGNALS) process.once(s, this.onSignal);
  }

  static async open(logger: Logger, parent = tmpdir()): Promise<EngineSession> {
    return new EngineSession(await mkdtemp(join(parent, 'cis-')), logger);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  adopt(daemon: Daemon): Daemon {
    this.daemons.push(daemon);
    return daemon;
  }

  /** Runs at close, after the daemons stopped (e.g. removing a half-written tarball). */
  onClose(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Stops every daemon now, newest first: the build reads their files only once they are gone. */
  async stopDaemons(): Promise<void> {
    while (this.daemons.length) await this.daemons.pop()?.stop(STOP_GRACE_MS);
  }

  close(): Promise<void> {
    this.closing ??= this.release();
    return this.closing;
  }

  private async release(): Promise<void> {
    for (const s of SIGNALS) process.removeListener(s, this.onSignal);
    await this.stopDaemons().catch(() => undefined);
    for (const cleanup of this.cleanups) await cleanup().catch(() => undefined);
    const stuck = await releaseMounts(this.dir);
    if (stuck.length) {
      // Removing a folder through a live mount could reach outside it: leave it for the admin.
      this.logger.warn(`could not unmount ${stuck.join(', ')}; left ${this.dir} in place`);
      return;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
