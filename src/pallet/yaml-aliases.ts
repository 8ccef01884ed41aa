import { isAlias, isMap, isPair, isScalar, isSeq, visit, type Alias, type Document, type Node } from 'yaml';

/**
 * Each alias of a document mapped to the node of the last anchor of that name before it, found
 * in one pass. The yaml package's `Alias.resolve` walks the whole document for every alias,
 * which makes a file with many aliases quadratic.
 */
export function resolveAliases(doc: Document.Parsed): Map<Alias, Node> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target) targets.set(node, target);
      } else if (node.anchor) {
        anchors.set(node.anchor, node as Node);
      }
    },
  });
  return targets;
}

/** Why a document was refused, and the node to point at. */
export interface AliasProblem {
  kind: 'excessive' | 'cycle';
  node: Node;
  /** Nodes decoded (aliases expanded) when the walk stopped, and how many came from aliases. */
  decodes: number;
  aliases: number;
}

// yaml.v3's bounds (decode.go), which Compose (through compose-go) and Forklift decode with: up to
// 400,000 decoded nodes 99% may come from alias expansion, from 4,000,000 on only 10%, and in
// between the share falls linearly. So an alias bomb stops after some 400,000 expansions however
// small the file, while large honest documents with many aliases still load.
const RATIO_RANGE_LOW = 400_000;
const RATIO_RANGE_HIGH = 4_000_000;

export function allowedAliasRatio(decodes: number): number {
  if (decodes <= RATIO_RANGE_LOW) return 0.99;
  if (decodes >= RATIO_RANGE_HIGH) return 0.1;
  return 0.99 - (0.89 * (decodes - RATIO_RANGE_LOW)) / (RATIO_RANGE_HIGH - RATIO_RANGE_LOW);
}

/**
 * Counts the nodes a decoder would visit with every alias expanded, in yaml.v3's order, and
 * stops at the first point where yaml.v3 would fail with "document contains excessive
 * aliasing" (or at an alias inside its own anchor). The walk ends within the bound, so it costs
 * at most a few hundred thousand steps whatever the file.
 */
export function checkAliasBudget(root: Node, targets: Map<Alias, Node>): AliasProblem | undefined {
  let decodes = 0;
  let aliases = 0;
  const expanding = new Set<Node>();
  const stop = (kind: AliasProblem['kind'], node: Node): AliasProblem => ({ kind, node, decodes, aliases });

  // `outer` is the outermost alias being expanded: the place in the file to blame.
  const walk = (node: Node | null, outer: Alias | undefined): AliasProblem | undefined => {
    decodes++;
    if (outer) aliases++;
    if (aliases > 100 && decodes > 1000 && aliases / decodes > allowedAliasRatio(decodes))
      return stop('excessive', outer ?? (node as Node));
    if (node === null) return undefined;
    if (isAlias(node)) {
      const target = targets.get(node);
      if (!target) return undefined;
      if (expanding.has(target)) return stop('cycle', node);
      expanding.add(target);
      const problem = walk(target, outer ?? node);
      expanding.delete(target);
      return problem;
    }
    if (isSeq(node)) {
      for (const item of node.items) {
        const problem = walk(item as Node, outer);
        if (problem) return problem;
      }
    } else if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as Node | null;
        // yaml.v3 decodes a merge key's value but not the `<<` itself.
        const isMerge = isScalar(key) && typeof key.value === 'symbol';
        const problem = (!isMerge && walk(key, outer)) || walk(pair.value as Node | null, outer);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  return walk(root, undefined);
}
