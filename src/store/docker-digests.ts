import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayoutImage } from '../layout/layout-images.js';
import { familiarName, parseReference } from '../references/reference.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';

interface ReferenceStore {
  Repositories: Record<string, Record<string, string>>;
}

/**
 * Records `name@<pinned digest>` for every image in Docker's reference store
 * (`image/overlay2/repositories.json`), as `docker pull name@digest` does and `docker load`
 * cannot: Docker looks a `name:tag@sha256:...` reference up by its digest, so without this
 * a compose file pinning digests would pull again on the device. Runs with the engine
 * stopped; returns the references added per image.
 */
export async function addDigestReferences(imageRoot: string, images: LayoutImage[]): Promise<string[][]> {
  const path = join(imageRoot, 'repositories.json');
  let store: ReferenceStore;
  try {
    store = JSON.parse(await readFile(path, 'utf8')) as ReferenceStore;
    store.Repositories ??= {};
  } catch (err) {
    throw new UserError(`dockerd left no readable ${path}: ${(err as Error).message}`, {
      code: 'engine',
      cause: err,
    });
  }
  const added = images.map((image) => {
    const name = familiarName(parseReference(image.reference));
    const key = `${name}@${image.descriptor.digest}`;
    (store.Repositories[name] ??= {})[key] = image.manifest.config.digest;
    return [key];
  });
  const { mode } = await stat(path);
  await writeFileAtomic(path, JSON.stringify(store));
  await chmod(path, mode & 0o777);
  return added;
}
