import { UserError } from '../util/errors.js';
import { isYamlMap, locOf, type Loc, type YamlMap, type YamlValue } from './yaml-values.js';

/** What one section (`deployment`, or one feature) of forklift-package.yml contributes. */
export interface Contribution {
  composeFiles: { path: string; loc: Loc }[];
  ociExports: { url: string; target: string; loc: Loc }[];
}

/**
 * The sections a deployment uses: `deployment`, then each enabled feature sorted by name.
 * Throws for a feature the package does not define.
 */
export function deploymentSections(
  manifest: YamlMap,
  manifestFile: string,
  features: string[],
  featuresLoc: Loc,
  packagePath: string,
): Contribution[] {
  const sections = [contribution(manifest.deployment, manifestFile, locOf(manifest, 'deployment'))];
  const defined = isYamlMap(manifest.features) ? manifest.features : undefined;
  const names = [...new Set(features)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    if (!defined || !(name in defined)) {
      const known = defined ? Object.keys(defined) : [];
      throw new UserError(
        `package ${packagePath} has no feature ${name}; ${known.length ? `use one of: ${known.join(', ')}` : 'it defines no features, so remove features:'}`,
        featuresLoc,
      );
    }
    sections.push(contribution(defined[name], manifestFile, locOf(defined, name)));
  }
  return sections;
}

function contribution(section: YamlValue | undefined, file: string, loc: Loc | undefined): Contribution {
  const out: Contribution = { composeFiles: [], ociExports: [] };
  if (section === undefined || section === null) return out;
  if (!isYamlMap(section))
    throw new UserError('expected a mapping here; fix forklift-package.yml', loc ?? { file });
  const compose = section['compose-files'];
  const composeLoc = locOf(section, 'compose-files') ?? loc ?? { file };
  if (compose !== undefined && compose !== null) {
    if (!Array.isArray(compose))
      throw new UserError('compose-files must be a list of paths; fix it', composeLoc);
    for (const path of compose) {
      if (typeof path !== 'string')
        throw new UserError('compose-files must be a list of paths; fix it', composeLoc);
      // Forklift treats empty entries as absent: only-empty lists mean "no Compose app".
      if (path !== '') out.composeFiles.push({ path, loc: composeLoc });
    }
  }
  const provides = section.provides;
  const exports = isYamlMap(provides) ? provides['file-exports'] : undefined;
  if (Array.isArray(exports)) {
    for (const exp of exports) {
      if (!isYamlMap(exp) || exp['source-type'] !== 'oci-image') continue;
      const url = exp.url;
      const expLoc = locOf(exp, 'url') ?? locOf(provides as YamlMap, 'file-exports') ?? { file };
      if (typeof url !== 'string' || url === '')
        throw new UserError('an oci-image file export needs url: <image reference>; add it', expLoc);
      out.ociExports.push({ url, target: typeof exp.target === 'string' ? exp.target : '', loc: expLoc });
    }
  }
  return out;
}
