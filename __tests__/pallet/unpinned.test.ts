import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { listPalletImages } from '../../src/pallet/index.js';
import { selectImages } from '../../src/pipeline/images.js';
import { UserError } from '../../src/util/errors.js';
import { PALLET_YML, writeTree } from './helpers.js';

/** Two deployments (one disabled) whose images lack tags, as found in old pallet history. */
async function unpinnedPallet(): Promise<string> {
  const root = await writeTree({
    'forklift-pallet.yml': PALLET_YML,
    'deployments/web.deploy.yml': 'package: /packages/web\n',
    'deployments/old.deploy.yml': 'package: /packages/old\ndisabled: true\n',
    'packages/web/forklift-package.yml':
      'deployment:\n  compose-files: [compose.yml]\n  provides:\n    file-exports:\n' +
      '      - source-type: oci-image\n        url: ghcr.io/example/tool\n        target: bin/tool\n',
    'packages/web/compose.yml':
      'services:\n  web:\n    image: nginx\n  db:\n    image: example.test/db:1\n  cache:\n    image: Example.test/Cache:2\n',
    'packages/old/forklift-package.yml': 'deployment:\n  compose-files: [compose.yml]\n',
    'packages/old/compose.yml': 'services:\n  old:\n    image: nginx\n',
  });
  return root;
}

const options = (root: string) => ({ cacheDir: join(root, '.c'), forkliftCacheDir: join(root, '.f') });

describe('images with neither tag nor digest', () => {
  test('list prints them as written, like forklift plt ls-img and ls-dl, disabled ones too', async () => {
    const root = await unpinnedPallet();
    const enabled = await listPalletImages(root, options(root));
    expect(enabled.map((i) => i.reference)).toEqual([
      'Example.test/Cache:2',
      'example.test/db:1',
      'ghcr.io/example/tool',
      'nginx',
    ]);
    const all = await listPalletImages(root, { ...options(root), includeDisabled: true });
    expect(all.find((i) => i.reference === 'nginx')?.requiredBy.map((r) => r.deployment)).toEqual([
      'old',
      'web',
    ]);
  });

  test('pull and key refuse every one of them in one line, each with file and line', async () => {
    const root = await unpinnedPallet();
    const err = await selectImages({
      pallet: root,
      includeDisabled: true,
      images: ['busybox', 'example.test/fine:1'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const e = err as UserError;
    expect(e.code).toBe('pallet');
    expect([e.file, e.line]).toEqual(['packages/web/compose.yml', 7]);
    expect(e.message.split('\n')).toHaveLength(1);
    expect(e.message).toBe(
      '4 images cannot be pulled: ' +
        'image Example.test/Cache:2 is not a valid reference (repository names must be lowercase), ' +
        'at packages/web/compose.yml:7 (deployment web, service cache); ' +
        'image ghcr.io/example/tool has neither a tag nor a digest, ' +
        'at packages/web/forklift-package.yml:6 (deployment web, file export bin/tool); ' +
        'image nginx has neither a tag nor a digest, at packages/old/compose.yml:3 (deployment old, service old) ' +
        'and packages/web/compose.yml:3 (deployment web, service web); ' +
        'image busybox has neither a tag nor a digest, given as an extra image; ' +
        'pin each with a tag or a digest (e.g. alpine:3.20 or alpine@sha256:...), latest is never assumed',
    );
  });

  test('extra images alone: the same check, as a bad input', async () => {
    const err = await selectImages({ images: ['busybox', 'alpine', 'example.test/x:1'] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    // No option: it is a bad value, not a usage mistake (exit 1, not 2, in the CLI).
    expect((err as UserError).facts).toMatchObject({ code: 'invalid-input', option: undefined });
    expect((err as UserError).message).toMatch(
      /^2 images cannot be pulled: image busybox has neither a tag nor a digest, given as an extra image; image alpine has/,
    );
  });

  test('one image alone reads as one', async () => {
    const err = await selectImages({ images: ['busybox'] }).catch((e: unknown) => e);
    expect((err as UserError).message).toBe(
      'image busybox has neither a tag nor a digest, given as an extra image; pin it with a tag or a digest (e.g. alpine:3.20 or alpine@sha256:...), latest is never assumed',
    );
  });

  test('pinned images pass', async () => {
    const root = await writeTree({
      'forklift-pallet.yml': PALLET_YML,
      'deployments/web.deploy.yml': 'package: /packages/web\n',
      'packages/web/forklift-package.yml': 'deployment:\n  compose-files: [compose.yml]\n',
      'packages/web/compose.yml': 'services:\n  web:\n    image: nginx@sha256:' + 'a'.repeat(64) + '\n',
    });
    const selected = await selectImages({ pallet: root, images: ['alpine:3'] });
    expect(selected.references).toEqual(['alpine:3', `nginx@sha256:${'a'.repeat(64)}`]);
    expect(selected.source).toMatchObject({ path: 'example.test/pallets/tmp', dir: root });
  });
});
