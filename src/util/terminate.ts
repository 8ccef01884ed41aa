/**
 * Clean-ups to run when the process is stopped by SIGINT (Ctrl-C) or SIGTERM (a cancelled
 * workflow): remove this run's temporaries, release the layout lock. While any clean-up is
 * registered, the signal runs them all once (newest first), prints one line and exits with
 * 128 + the signal number (130, 143), as a shell reports a process killed by it. With none
 * registered, Node's default handling is left alone.
 *
 *   const forget = onTerminate(() => lock.release());
 *   ...
 *   forget();
 */
export type Cleanup = () => void | Promise<void>;

const cleanups: Cleanup[] = [];
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type Signal = keyof typeof SIGNALS;
/** Clean-ups get this long before the process exits anyway: a hung disk must not keep a cancelled job alive. */
const CLEANUP_LIMIT_MS = 5_000;
let stopping = false;

/** Where the one line goes; the action may route it elsewhere. */
let report: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

export function setTerminateReporter(reporter: (line: string) => void): void {
  report = reporter;
}

/** Registers a clean-up; returns a function that unregisters it (call it when the work is done). */
export function onTerminate(cleanup: Cleanup): () => void {
  if (cleanups.length === 0) for (const signal of Object.keys(SIGNALS)) process.on(signal, handle);
  cleanups.push(cleanup);
  return () => {
    const at = cleanups.indexOf(cleanup);
    if (at >= 0) cleanups.splice(at, 1);
    if (cleanups.length === 0 && !stopping)
      for (const signal of Object.keys(SIGNALS)) process.off(signal, handle);
  };
}

function handle(signal: Signal): void {
  const code = 128 + SIGNALS[signal];
  // A second signal while cleaning up: the user insists.
  if (stopping) process.exit(code);
  stopping = true;
  report(`stopped by ${signal}: removing temporary files and releasing the layout`);
  const pending = cleanups.splice(0).reverse();
  const all = (async () => {
    for (const cleanup of pending) {
      try {
        await cleanup();
      } catch {
        // The others still run: one failed clean-up must not keep the lock held.
      }
    }
  })();
  const limit = new Promise((resolve) => setTimeout(resolve, CLEANUP_LIMIT_MS).unref());
  void Promise.race([all, limit]).then(() => process.exit(code));
}
