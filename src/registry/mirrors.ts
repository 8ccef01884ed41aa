/** Docker Hub goes by several names; mirrors are keyed by the one references normalise to. */
const HUB_ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

/**
 * Parses `REGISTRY=MIRROR` pairs into mirrors per registry domain, in the order given.
 * `fail` builds the error for a malformed pair (a usage error on the CLI, an input error in the action).
 */
export function parseMirrors(pairs: string[], fail: (message: string) => Error): Record<string, string[]> {
  const mirrors: Record<string, string[]> = {};
  for (const pair of pairs) {
    const m = /^([^=\s/]+)=(?:https?:\/\/)?([^=\s/]+)\/?$/.exec(pair.trim());
    if (!m)
      throw fail(`expects REGISTRY=MIRROR (e.g. docker.io=mirror.example:5000), got ${JSON.stringify(pair)}`);
    const registry = HUB_ALIASES.includes(m[1] as string) ? 'docker.io' : (m[1] as string);
    (mirrors[registry] ??= []).push(m[2] as string);
  }
  return mirrors;
}
