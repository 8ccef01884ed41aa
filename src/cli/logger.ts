import type { Logger } from '../util/log.js';

/** CLI logging: everything on stderr, so stdout carries only a command's output. */
export function stderrLogger(debug = Boolean(process.env.CACHE_IMAGES_DEBUG)): Logger {
  const secrets = new Set<string>();
  const mask = (text: string) => {
    let out = text;
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  return {
    info: (m) => process.stderr.write(`${mask(m)}\n`),
    warn: (m) => process.stderr.write(`warning: ${mask(m)}\n`),
    debug: (m) => {
      if (debug) process.stderr.write(`debug: ${mask(m)}\n`);
    },
    secret: (s) => {
      if (s) secrets.add(s);
    },
  };
}
