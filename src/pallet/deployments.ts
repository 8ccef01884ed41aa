import { UserError } from '../util/errors.js';
import type { FileTree } from './file-tree.js';
import { locOf, parseYamlMap, type Loc } from './yaml-values.js';

const DEPLOY_DIR = 'deployments';
const DEPLOY_EXT = '.deploy.yml';

export interface Deployment {
  /** Path under deployments/ without .deploy.yml, e.g. `apps/grafana`. */
  name: string;
  /** Display path of the deploy file. */
  file: string;
  packagePath: string;
  packageLoc: Loc;
  features: string[];
  featuresLoc: Loc;
  disabled: boolean;
}

/** Every `deployments/**\/*.deploy.yml` of the pallet, sorted by name. */
export async function listDeployments(tree: FileTree): Promise<Deployment[]> {
  const out: Deployment[] = [];
  for (const rel of tree.listUnder(DEPLOY_DIR)) {
    if (!rel.endsWith(DEPLOY_EXT)) continue;
    const name = rel.slice(DEPLOY_DIR.length + 1, -DEPLOY_EXT.length);
    const file = tree.display(rel);
    const decl = parseYamlMap(await tree.read(rel), file);
    const fallback = { file, line: 1 };
    const pkg = decl.package;
    if (typeof pkg !== 'string' || pkg === '') {
      throw new UserError(
        'the deployment names no package; add "package: /packages/..." or a required package path',
        locOf(decl, 'package') ?? fallback,
      );
    }
    const featuresLoc = locOf(decl, 'features') ?? fallback;
    const rawFeatures = decl.features ?? [];
    if (!Array.isArray(rawFeatures) || rawFeatures.some((f) => typeof f !== 'string')) {
      throw new UserError('features must be a list of feature names; fix it', featuresLoc);
    }
    const disabled = decl.disabled ?? false;
    if (typeof disabled !== 'boolean')
      throw new UserError('disabled must be true or false; fix it', locOf(decl, 'disabled') ?? fallback);
    out.push({
      name,
      file,
      packagePath: pkg,
      packageLoc: locOf(decl, 'package') ?? fallback,
      features: rawFeatures as string[],
      featuresLoc,
      disabled,
    });
  }
  return out.sort((a, b) => compareBytes(a.name, b.name));
}

/** Bytewise order of UTF-8 strings, as Go's sort does. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
