import type { Logger } from '../util/log.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

/**
 * CLI logging: everything on stderr, so stdout carries only a command's output. Quiet keeps
 * errors only (main prints those); verbose adds debug lines.
 */
export function stderrLogger(
  verbosity: Verbosity = process.env.CACHE_IMAGES_DEBUG ? 'verbose' : 'normal',
): Logger {
  const secrets = new Set<string>();
  const mask = (text: string) => {
    let out = text;
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  const write = (line: string) => process.stderr.write(`${mask(line)}\n`);
  const quiet = verbosity === 'quiet';
  return {
    info: (m) => quiet || write(m),
    warn: (m) => quiet || write(`warning: ${m}`),
    debug: (m) => verbosity === 'verbose' && write(`debug: ${m}`),
    secret: (s) => {
      if (s) secrets.add(s);
    },
  };
}
