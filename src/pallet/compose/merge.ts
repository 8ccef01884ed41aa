import { isYamlMap, locOf, newMap, setLoc, Tagged, type YamlValue } from '../yaml-values.js';

/** Returned by `mergeValues` when the later value is `!reset`: the key disappears. */
export const RESET = Symbol('reset');

/**
 * Compose's override rule, reduced to what decides images: mappings merge key by key, lists
 * are joined without duplicates, anything else is replaced; `!reset` removes the key and
 * `!override` replaces without merging.
 */
export function mergeValues(base: YamlValue | undefined, over: YamlValue): YamlValue | typeof RESET {
  if (over instanceof Tagged) return over.tag === 'reset' ? RESET : stripTags(over.value);
  if (base === undefined || base instanceof Tagged) return stripTags(over);
  if (isYamlMap(base) && isYamlMap(over)) {
    const out = newMap();
    for (const key of Object.keys(base)) {
      out[key] = base[key] as YamlValue;
      setLoc(out, key, locOf(base, key));
    }
    for (const key of Object.keys(over)) {
      const merged = mergeValues(out[key], over[key] as YamlValue);
      if (merged === RESET) {
        delete out[key];
        continue;
      }
      out[key] = merged;
      setLoc(out, key, locOf(over, key));
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    // Keys instead of pairwise comparison: long lists in two files would otherwise be quadratic.
    const out = [...base];
    const seen = new Set(out.map(canonicalKey));
    for (const item of over.map(stripTags)) {
      const key = canonicalKey(item);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(item);
    }
    return out;
  }
  return stripTags(over);
}

/** A value as it stands on its own: `!reset` entries gone, `!override` unwrapped. */
export function stripTags(value: YamlValue): YamlValue {
  if (value instanceof Tagged) return value.tag === 'reset' ? null : stripTags(value.value);
  if (Array.isArray(value))
    return value.filter((v) => !(v instanceof Tagged && v.tag === 'reset')).map(stripTags);
  if (isYamlMap(value)) {
    const out = newMap();
    for (const key of Object.keys(value)) {
      const v = value[key] as YamlValue;
      if (v instanceof Tagged && v.tag === 'reset') continue;
      out[key] = stripTags(v);
      setLoc(out, key, locOf(value, key));
    }
    return out;
  }
  return value;
}

/** A string equal for values `deepEqual` calls equal (mapping keys in any order). */
function canonicalKey(value: YamlValue): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!isYamlMap(v)) return v;
    const sorted = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).sort()) sorted[k] = v[k];
    return sorted;
  });
}

export function deepEqual(a: YamlValue, b: YamlValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i] as YamlValue));
  if (isYamlMap(a) && isYamlMap(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length && ka.every((k) => k in b && deepEqual(a[k] as YamlValue, b[k] as YamlValue))
    );
  }
  return false;
}
