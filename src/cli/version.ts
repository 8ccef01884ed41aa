import { readFileSync } from 'node:fs';

/**
 * The package's version. package.json sits two folders above this module in every form it runs
 * in: src/cli (tests), lib/cli (tsc) and dist/cli (the bundle, installed or not).
 */
export function packageVersion(): string {
  const path = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}
