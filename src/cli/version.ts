import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's version. package.json sits two folders above this module in every form it runs
 * in: src/cli (tests), lib/cli (tsc) and dist/cli (the bundle, installed or not). The path is
 * built at run time so the bundler does not copy package.json over the bundle's own.
 */
export function packageVersion(): string {
  const up = '..';
  const path = join(dirname(fileURLToPath(import.meta.url)), up, up, 'package.json');
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}
