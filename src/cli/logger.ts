import type { Logger } from '../util/log.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

/** Where the CLI writes: stderr, or a stand-in with the same two members in tests. */
export type Terminal = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };

/**
 * CLI logging: everything on stderr, so stdout carries only a command's output. Quiet keeps
 * errors only (main prints those); verbose adds debug lines. On a terminal, progress is one
 * line rewritten in place (`status`); in a log file or CI it is plain lines instead.
 */
export function stderrLogger(
  verbosity: Verbosity = process.env.CACHE_IMAGES_DEBUG ? 'verbose' : 'normal',
  out: Terminal = process.stderr,
): Logger {
  const secrets = new Set<string>();
  const mask = (text: string) => {
    let out = text;
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  let statusShown = false;
  // A status line on screen is erased before any other line, so lines never mix.
  const clear = () => {
    if (statusShown) out.write('\r\x1b[K');
    statusShown = false;
  };
  const write = (line: string) => {
    clear();
    out.write(`${mask(line)}\n`);
  };
  const quiet = verbosity === 'quiet';
  const logger: Logger = {
    info: (m) => quiet || write(m),
    warn: (m) => quiet || write(`warning: ${m}`),
    debug: (m) => verbosity === 'verbose' && write(`debug: ${m}`),
    secret: (s) => {
      if (s) secrets.add(s);
    },
  };
  if (out.isTTY && verbosity === 'normal') {
    logger.status = (line) => {
      clear();
      if (!line) return;
      out.write(mask(line));
      statusShown = true;
    };
  }
  return logger;
}
