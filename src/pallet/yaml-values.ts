import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Alias,
  type Node,
} from 'yaml';
import { UserError } from '../util/errors.js';
import { checkAliasBudget, resolveAliases } from './yaml-aliases.js';

/**
 * YAML as plain values, with what the generic `toJS()` loses and we need: the `!reset` and
 * `!override` tags of Compose, and the line every mapping value came from (for messages).
 */
export type YamlValue = string | number | boolean | null | YamlValue[] | YamlMap | Tagged;
export interface YamlMap {
  [key: string]: YamlValue;
}

export class Tagged {
  constructor(
    readonly tag: 'reset' | 'override',
    readonly value: YamlValue,
  ) {}
}

export interface Loc {
  file: string;
  line?: number;
}

const locations = new WeakMap<object, Map<string, Loc>>();

/** Where the value under `key` of `map` was written, when known. */
export function locOf(map: object, key: string): Loc | undefined {
  return locations.get(map)?.get(key);
}

export function setLoc(map: object, key: string, loc: Loc | undefined): void {
  if (!loc) return;
  let m = locations.get(map);
  if (!m) locations.set(map, (m = new Map()));
  m.set(key, loc);
}

export function newMap(): YamlMap {
  return Object.create(null) as YamlMap;
}

export function isYamlMap(v: unknown): v is YamlMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tagged);
}

export interface ParseOptions {
  /** Applied to every string scalar that is not a mapping key (Compose interpolation). */
  transformString?: (value: string, loc: Loc) => string;
}

/** Parses every document of a YAML file; a syntax error becomes a UserError at its line. */
export function parseYamlDocuments(text: string, file: string, options: ParseOptions = {}): YamlValue[] {
  const lineCounter = new LineCounter();
  // Duplicate keys are found while converting: the yaml package's own check is quadratic in the
  // size of a mapping (3000 services took seconds).
  const docs = parseAllDocuments(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: YamlValue[] = [];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line;
      // The yaml package builds nested collections recursively and reports the overflow as an error.
      const why = err.message.includes('call stack')
        ? 'collections nested too deeply'
        : err.message.split('\n')[0];
      throw new UserError(`invalid YAML: ${why}; fix the syntax of this file`, { file, line });
    }
    // An empty document (`---` alone, or a comment-only file) holds nothing.
    if (doc.contents === null) continue;
    const converter = new Converter(resolveAliases(doc), file, lineCounter, options);
    converter.checkAliases(doc.contents as Node);
    out.push(converter.convert(doc.contents as Node));
  }
  return out;
}

/** The first document of a file that holds one mapping (Forklift's own files), `{}` when empty. */
export function parseYamlMap(text: string, file: string): YamlMap {
  const docs = parseYamlDocuments(text, file);
  const first = docs[0];
  if (first === undefined || first === null) return newMap();
  if (!isYamlMap(first))
    throw new UserError('expected a mapping at the top of this file; fix its structure', { file, line: 1 });
  return first;
}

class Converter {
  private readonly cache = new Map<Node, YamlValue>();

  constructor(
    private readonly aliases: Map<Alias, Node>,
    private readonly file: string,
    private readonly lines: LineCounter,
    private readonly options: ParseOptions,
  ) {}

  private loc(node: Node | null | undefined): Loc {
    const offset = node?.range?.[0];
    return { file: this.file, line: offset === undefined ? undefined : this.lines.linePos(offset).line };
  }

  /**
   * Refuses what yaml.v3 refuses before anything is built: more alias expansion than it allows,
   * and aliases inside their own anchor. Values are shared between aliases here, but Compose's
   * merging copies them, so the expanded size is what has to be bounded.
   */
  checkAliases(root: Node): void {
    const problem = checkAliasBudget(root, this.aliases);
    if (!problem) return;
    if (problem.kind === 'cycle')
      throw new UserError(
        'a YAML alias refers to its own container; remove the cycle',
        this.loc(problem.node),
      );
    throw new UserError(
      `YAML aliases expand this document too much (${problem.aliases} of ${problem.decodes} nodes came from aliases ` +
        'when the limit was reached); Compose and Forklift refuse it as "document contains excessive aliasing": ' +
        'write the repeated values out or alias smaller parts',
      this.loc(problem.node),
    );
  }

  convert(node: Node | null): YamlValue {
    if (node === null) return null;
    if (isAlias(node)) {
      const target = this.aliases.get(node);
      if (!target)
        throw new UserError(
          `unknown YAML alias *${node.source}; define the anchor before using it`,
          this.loc(node),
        );
      return this.convert(target);
    }
    // Aliases share nodes: converting each once keeps the conversion linear in the file's size.
    const cached = this.cache.get(node);
    if (cached !== undefined) return cached;
    const value = this.convertUncached(node);
    const tag = node.tag;
    const result =
      tag === '!reset'
        ? new Tagged('reset', value)
        : tag === '!override'
          ? new Tagged('override', value)
          : value;
    this.cache.set(node, result);
    return result;
  }

  private convertUncached(node: Node): YamlValue {
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string')
        return this.options.transformString ? this.options.transformString(v, this.loc(node)) : v;
      if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
      if (typeof v === 'bigint') return Number(v);
      return v === undefined ? null : String(v as unknown);
    }
    if (isSeq(node)) return node.items.map((item) => this.convert(item as Node));
    if (isMap(node)) {
      const map = newMap();
      const merged: YamlMap[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as Node | null;
        if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
          // Merge key: collect the sources; explicit keys win, applied after the loop.
          const src = this.convert(pair.value as Node);
          const sources = Array.isArray(src) ? src : [src];
          for (const s of sources) {
            if (!isYamlMap(s))
              throw new UserError(
                'a YAML merge key (<<) needs a mapping or a list of mappings',
                this.loc(keyNode),
              );
            merged.push(s);
          }
          continue;
        }
        const key = isScalar(keyNode)
          ? String(keyNode.value)
          : isAlias(keyNode)
            ? String(this.convert(keyNode))
            : '';
        if (!isScalar(keyNode) && !isAlias(keyNode)) {
          throw new UserError(
            'only plain mapping keys are supported; rewrite this key as a string',
            this.loc(keyNode),
          );
        }
        if (key in map)
          throw new UserError(
            `mapping key ${JSON.stringify(key)} is already defined in this mapping; remove one of them`,
            this.loc(keyNode),
          );
        map[key] = this.convert(pair.value as Node);
        setLoc(map, key, this.loc((pair.value as Node | null) ?? keyNode));
      }
      for (const source of merged) {
        for (const key of Object.keys(source)) {
          if (key in map) continue;
          map[key] = source[key] as YamlValue;
          setLoc(map, key, locOf(source, key));
        }
      }
      return map;
    }
    return null;
  }
}
