import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'pallets');

export const PALLET_YML = 'forklift-version: v0.7.2-alpha.3\npallet:\n  path: example.test/pallets/tmp\n';

/** Writes a small pallet (or any tree) into a fresh temporary folder. */
export async function writeTree(files: Record<string, string>, dir?: string): Promise<string> {
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'pallet-test-')));
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), text);
  }
  return root;
}

/** A pallet with one deployment `app` of the local package /packages/app. */
export function onePackagePallet(
  compose: Record<string, string>,
  manifest?: string,
  deploy?: string,
): Record<string, string> {
  const files: Record<string, string> = {
    'forklift-pallet.yml': PALLET_YML,
    'deployments/app.deploy.yml': deploy ?? 'package: /packages/app\n',
    'packages/app/forklift-package.yml':
      manifest ?? `deployment:\n  compose-files: [${Object.keys(compose)[0] ?? ''}]\n`,
  };
  for (const [name, text] of Object.entries(compose)) files[`packages/app/${name}`] = text;
  return files;
}
