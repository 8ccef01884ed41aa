import { posix } from 'node:path';
import { UserError } from '../../util/errors.js';
import { joinInside, type FileTree } from '../file-tree.js';
import {
  isYamlMap,
  locOf,
  newMap,
  parseYamlDocuments,
  setLoc,
  type Loc,
  type YamlMap,
  type YamlValue,
} from '../yaml-values.js';
import { interpolate } from './interpolate.js';
import { deepEqual, mergeValues, RESET, stripTags } from './merge.js';

/** A service of the merged Compose project, with where its image was written. */
export interface ComposeService {
  name: string;
  /** Undefined for build-only services. */
  image?: string;
  /** File (display path) and line of the `image:` that won, or of the service when it has none. */
  loc: Loc;
}

/** A Compose file of the app and where it was asked for (for "missing file" messages). */
export interface ComposeFileRef {
  rel: string;
  from: Loc;
}

/**
 * Loads a deployment's Compose files as one project, the way `docker compose -f a -f b` does:
 * per file, `include:` then `extends:`, then each file (and each document of a multi-document
 * file) merges over the ones before it. Profiled services are dropped since no profile is active.
 */
export async function loadComposeServices(
  tree: FileTree,
  files: ComposeFileRef[],
  projectName: string,
): Promise<ComposeService[]> {
  const loader = new ComposeLoader(tree, new Map([['COMPOSE_PROJECT_NAME', projectName]]));
  const model = await loader.loadProject(files, []);
  const services = model.services;
  if (services === undefined || services === null) return [];
  if (!isYamlMap(services))
    throw new UserError(
      '`services` must be a mapping of service names; fix this Compose file',
      locOf(model, 'services'),
    );
  const out: ComposeService[] = [];
  for (const name of Object.keys(services)) {
    const svc = services[name] as YamlValue;
    const svcLoc = locOf(services, name) ?? { file: files[0]?.rel ?? '' };
    if (svc !== null && !isYamlMap(svc))
      throw new UserError(`service ${name} must be a mapping; fix this Compose file`, svcLoc);
    const profiles = svc?.profiles;
    if (Array.isArray(profiles) && profiles.length > 0) continue;
    const image = svc?.image;
    if (image === undefined || image === null) {
      out.push({ name, loc: svcLoc });
      continue;
    }
    if (typeof image !== 'string' && typeof image !== 'number') {
      throw new UserError(
        `service ${name}: image must be a string; fix this Compose file`,
        locOf(svc as YamlMap, 'image') ?? svcLoc,
      );
    }
    out.push({ name, image: String(image), loc: locOf(svc as YamlMap, 'image') ?? svcLoc });
  }
  return out;
}

class ComposeLoader {
  private readonly parsed = new Map<string, YamlMap[]>();
  // Each included project, file of `extends` bases and extended service is built once: a chain of
  // extends or a diamond of includes would otherwise cost quadratic or exponential time.
  private readonly projects = new Map<string, YamlMap>();
  private readonly baseFiles = new Map<string, YamlMap>();
  private readonly resolved = new WeakMap<YamlMap, Map<string, YamlValue>>();

  constructor(
    private readonly tree: FileTree,
    private readonly env: ReadonlyMap<string, string>,
  ) {}

  private async documents(ref: ComposeFileRef): Promise<YamlMap[]> {
    const cached = this.parsed.get(ref.rel);
    if (cached) return cached;
    if (!this.tree.has(ref.rel)) {
      const what = this.tree.isDir(ref.rel) ? 'is a folder, not a file' : 'does not exist';
      throw new UserError(
        `Compose file ${this.tree.display(ref.rel)} ${what}; fix the path or add the file`,
        ref.from,
      );
    }
    const display = this.tree.display(ref.rel);
    const text = await this.tree.read(ref.rel);
    const docs = parseYamlDocuments(text, display, {
      transformString: (value, loc) => interpolate(value, this.env, loc),
    });
    const maps: YamlMap[] = [];
    for (const doc of docs) {
      if (doc === null) continue;
      if (!isYamlMap(doc))
        throw new UserError('a Compose file must hold a mapping (services: ...); fix its structure', {
          file: display,
          line: 1,
        });
      maps.push(doc);
    }
    this.parsed.set(ref.rel, maps);
    return maps;
  }

  /** The merged model of several files; `stack` holds the files being included, against cycles. */
  async loadProject(files: ComposeFileRef[], stack: string[]): Promise<YamlMap> {
    let model: YamlMap = newMap();
    for (const ref of files) {
      for (const doc of await this.documents(ref)) {
        const withIncludes = await this.applyIncludes(doc, ref, stack);
        const resolved = await this.applyExtends(withIncludes, ref.rel, []);
        model = mergeValues(model, resolved) as YamlMap;
      }
    }
    return model;
  }

  private async applyIncludes(doc: YamlMap, ref: ComposeFileRef, stack: string[]): Promise<YamlMap> {
    const include = doc.include;
    if (include === undefined || include === null) return doc;
    const includeLoc = locOf(doc, 'include');
    if (!Array.isArray(include))
      throw new UserError('`include` must be a list; fix this Compose file', includeLoc);
    const display = this.tree.display(ref.rel);
    const dir = posix.dirname(ref.rel);
    const services = newMap();
    if (isYamlMap(doc.services))
      for (const name of Object.keys(doc.services)) services[name] = doc.services[name] as YamlValue;
    copyLocs(doc.services, services);
    for (const entry of include) {
      let paths: YamlValue[];
      if (typeof entry === 'string') paths = [entry];
      else if (isYamlMap(entry)) paths = Array.isArray(entry.path) ? entry.path : [entry.path ?? null];
      else
        throw new UserError(
          'an `include` entry must be a path or {path: ...}; fix this Compose file',
          includeLoc,
        );
      const refs: ComposeFileRef[] = paths.map((p) => {
        if (typeof p !== 'string' || p === '')
          throw new UserError('an `include` entry needs a path; fix this Compose file', includeLoc);
        return {
          rel: joinInside(dir, p, this.tree, includeLoc ?? { file: display }),
          from: includeLoc ?? { file: display },
        };
      });
      for (const r of refs) {
        if (r.rel === ref.rel || stack.includes(r.rel)) {
          throw new UserError(
            `include cycle: ${[...stack, ref.rel, r.rel].map((p) => this.tree.display(p)).join(' -> ')}; remove one of these includes`,
            includeLoc,
          );
        }
      }
      const projectKey = refs.map((r) => r.rel).join('\0');
      const included = this.projects.get(projectKey) ?? (await this.loadProject(refs, [...stack, ref.rel]));
      this.projects.set(projectKey, included);
      const incServices = included.services;
      if (!isYamlMap(incServices)) continue;
      for (const name of Object.keys(incServices)) {
        const mine = services[name];
        if (mine !== undefined && !deepEqual(stripTags(mine), incServices[name] as YamlValue)) {
          throw new UserError(
            `service ${name} is defined here and in the included file ${refs.map((r) => this.tree.display(r.rel)).join(', ')}; rename one, or change it with an override file listed in that include`,
            locOf(services, name) ?? includeLoc,
          );
        }
        services[name] = incServices[name] as YamlValue;
        setLoc(services, name, locOf(incServices, name));
      }
    }
    const out = newMap();
    for (const key of Object.keys(doc)) {
      if (key === 'include') continue;
      out[key] = doc[key] as YamlValue;
      setLoc(out, key, locOf(doc, key));
    }
    out.services = services;
    setLoc(out, 'services', locOf(doc, 'services') ?? includeLoc);
    return out;
  }

  /** Replaces every service that has `extends:` by its base merged with its own settings. */
  private async applyExtends(doc: YamlMap, rel: string, stack: string[]): Promise<YamlMap> {
    const services = doc.services;
    if (!isYamlMap(services)) return doc;
    if (!Object.values(services).some((s) => isYamlMap(s) && s.extends !== undefined)) return doc;
    const resolvedServices = newMap();
    for (const name of Object.keys(services)) {
      resolvedServices[name] = await this.resolveService(services, rel, name, stack);
      setLoc(resolvedServices, name, locOf(services, name));
    }
    const out = newMap();
    for (const key of Object.keys(doc)) {
      out[key] = key === 'services' ? resolvedServices : (doc[key] as YamlValue);
      setLoc(out, key, locOf(doc, key));
    }
    return out;
  }

  private async resolveService(
    services: YamlMap,
    rel: string,
    name: string,
    stack: string[],
  ): Promise<YamlValue> {
    const svc = services[name] as YamlValue;
    if (!isYamlMap(svc) || svc.extends === undefined || svc.extends === null) return svc;
    const key = `${rel}#${name}`;
    const extLoc = locOf(svc, 'extends') ?? { file: this.tree.display(rel) };
    if (stack.includes(key)) {
      throw new UserError(`extends cycle through service ${name}; remove one of the extends`, extLoc);
    }
    const ext = svc.extends;
    let baseName: YamlValue | undefined;
    let baseFile: YamlValue | undefined;
    if (typeof ext === 'string') baseName = ext;
    else if (isYamlMap(ext)) {
      baseName = ext.service;
      baseFile = ext.file;
    }
    if (typeof baseName !== 'string' || baseName === '') {
      throw new UserError(
        `service ${name}: extends needs a service name; write extends: {service: NAME}`,
        extLoc,
      );
    }
    let baseServices = services;
    let baseRel = rel;
    if (typeof baseFile === 'string' && baseFile !== '') {
      baseRel = joinInside(posix.dirname(rel), baseFile, this.tree, extLoc);
      let merged = this.baseFiles.get(baseRel);
      if (!merged) {
        merged = newMap();
        for (const d of await this.documents({ rel: baseRel, from: extLoc }))
          merged = mergeValues(merged, d) as YamlMap;
        this.baseFiles.set(baseRel, merged);
      }
      baseServices = isYamlMap(merged.services) ? merged.services : newMap();
    }
    if (!(baseName in baseServices)) {
      throw new UserError(
        `service ${name} extends ${baseName}, which ${this.tree.display(baseRel)} does not define; fix the service name or the file`,
        extLoc,
      );
    }
    let done = this.resolved.get(baseServices);
    if (!done) this.resolved.set(baseServices, (done = new Map()));
    const base =
      done.get(baseName) ?? (await this.resolveService(baseServices, baseRel, baseName, [...stack, key]));
    done.set(baseName, base);
    const own = newMap();
    for (const k of Object.keys(svc)) {
      if (k === 'extends') continue;
      own[k] = svc[k] as YamlValue;
      setLoc(own, k, locOf(svc, k));
    }
    const result = mergeValues(isYamlMap(base) ? base : newMap(), own);
    return result === RESET ? null : result;
  }
}

function copyLocs(from: YamlValue | undefined, to: YamlMap): void {
  if (!isYamlMap(from)) return;
  for (const key of Object.keys(from)) setLoc(to, key, locOf(from, key));
}
