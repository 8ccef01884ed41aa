import { loadComposeServices } from './compose/load-compose.js';
import { compareBytes, listDeployments } from './deployments.js';
import { joinInside } from './file-tree.js';
import { loadPallet, type ReaderContext } from './load-pallet.js';
import { describePallet, resolvePallet, type PalletIdentity } from './pallet-source.js';
import { UserError } from '../util/errors.js';
import { deploymentSections } from './package-manifest.js';
import { resolvePackage, type RepoTrees } from './packages.js';
import { defaultCacheDir, defaultForkliftCacheDir } from './requirement-folders.js';
import type { ImageKind, ImageRequirement, PalletOptions, RequiredImage } from './types.js';

/** A pallet's images and which pallet they come from. */
export interface PalletListing {
  images: RequiredImage[];
  pallet: PalletIdentity;
}

/**
 * Reads the pallet `spec` names (a folder, or `host/path@version` fetched with git) and lists its
 * images. Every mistake in it is a UserError with code 'pallet'; those in a remote pallet also
 * name it as `path@version (commit)`.
 */
export async function readPallet(spec: string, options: PalletOptions = {}): Promise<PalletListing> {
  const ctx: ReaderContext = {
    folders: {
      repoOverrides: options.repoOverrides ?? {},
      palletOverrides: options.palletOverrides ?? {},
      cacheDir: options.cacheDir ?? defaultCacheDir(),
      forkliftCacheDir: options.forkliftCacheDir ?? defaultForkliftCacheDir(),
    },
    warn: options.warn ?? (() => {}),
    pallets: new Map(),
  };
  const pallet = await resolvePallet(spec, ctx.folders, ctx.warn);
  try {
    const { images, path } = await listImagesIn(pallet.dir, options, ctx);
    return { images, pallet: { ...pallet, path: pallet.path || path } };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const named = pallet.commit ? `${err.message} [pallet ${describePallet(pallet)}]` : err.message;
    throw err.with({ code: err.code ?? 'pallet' }, named);
  }
}

/**
 * The images a pallet needs, as `forklift plt ls-img` (Compose) and the OCI images of
 * `forklift plt ls-dl` (file exports) compute them, sorted bytewise by reference.
 *
 * With kind 'all' a reference that is both a Compose image and a file-export image appears once,
 * as Forklift's two lists joined and de-duplicated would show it; its kind is 'compose' (it must
 * be loadable into Docker), and `requiredBy` keeps the places of both kinds (file exports are the
 * entries with `fileExport`).
 */
export async function listPalletImages(spec: string, options: PalletOptions = {}): Promise<RequiredImage[]> {
  return (await readPallet(spec, options)).images;
}

async function listImagesIn(
  palletDir: string,
  options: PalletOptions,
  ctx: ReaderContext,
): Promise<{ images: RequiredImage[]; path: string }> {
  const kind = options.kind ?? 'all';
  const { tree, path } = await loadPallet(palletDir, ctx, {
    label: 'the pallet',
    displayPrefix: '',
    chain: [],
  });
  const repos: RepoTrees = new Map();
  const found = new Map<string, RequiredImage>();
  const add = (reference: string, imageKind: ImageKind, where: ImageRequirement): void => {
    const key = kind === 'all' ? reference : `${imageKind} ${reference}`;
    let image = found.get(key);
    if (!image) found.set(key, (image = { reference, kind: imageKind, requiredBy: [] }));
    if (imageKind === 'compose') image.kind = 'compose';
    image.requiredBy.push(where);
  };

  for (const depl of await listDeployments(tree)) {
    if (depl.disabled && !options.includeDisabled) continue;
    const pkg = await resolvePackage(tree, depl.packagePath, depl.packageLoc, ctx, repos);
    const sections = deploymentSections(
      pkg.manifest,
      pkg.manifestFile,
      depl.features,
      depl.featuresLoc,
      depl.packagePath,
    );
    const base = { deployment: depl.name, package: depl.packagePath };
    if (kind !== 'file-export') {
      const files = sections
        .flatMap((s) => s.composeFiles)
        .map((f) => ({ rel: joinInside(pkg.dir, f.path, pkg.tree, f.loc), from: f.loc }));
      if (files.length > 0) {
        const services = await loadComposeServices(pkg.tree, files, depl.name.replaceAll('/', '_'));
        for (const svc of services) {
          if (svc.image === undefined) {
            options.warn?.(
              `${svc.loc.file}${svc.loc.line ? `:${svc.loc.line}` : ''}: deployment ${depl.name}: service ${svc.name} has no image (build-only), so it is skipped; give it an image: to cache one`,
            );
            continue;
          }
          add(svc.image, 'compose', { ...base, file: svc.loc.file, line: svc.loc.line, service: svc.name });
        }
      }
    }
    if (kind !== 'compose') {
      for (const exp of sections.flatMap((s) => s.ociExports)) {
        add(exp.url, 'file-export', {
          ...base,
          file: pkg.manifestFile,
          line: exp.loc.line,
          fileExport: exp.target,
        });
      }
    }
  }
  const images = [...found.values()].sort(
    (a, b) => compareBytes(a.reference, b.reference) || compareBytes(a.kind, b.kind),
  );
  return { images, path };
}
