/**
 * Where the pipeline reports progress. The CLI writes to stderr (stdout carries command
 * output); the action writes to the Actions log and masks secrets with core.setSecret.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Registers a value that must never appear in any log line. */
  secret(value: string): void;
  /**
   * A transient line that replaces the previous one (a terminal's live progress); '' erases it.
   * Absent where lines cannot be rewritten (CI logs, files): callers then log lines instead.
   */
  status?(line: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {}, secret() {} };

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
