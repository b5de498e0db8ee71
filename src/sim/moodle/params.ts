/**
 * PHP's reading of bracket keys (`users[0][username]=x`) into nested
 * values, as Moodle receives them: every leaf is a string, every level a
 * map; lists are maps whose keys happen to be 0..n-1.
 */
export type PhpValue = string | { [key: string]: PhpValue };

export function parseBracketParams(pairs: Iterable<[string, string]>): Record<string, PhpValue> {
  const root: Record<string, PhpValue> = {};
  for (const [key, value] of pairs) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m) continue;
    const path = [m[1]!, ...[...m[2]!.matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)];
    let node: Record<string, PhpValue> = root;
    for (let i = 0; i < path.length; i++) {
      let k = path[i]!;
      // `a[]=x` appends, as PHP does.
      if (k === '') k = String(Object.keys(node).length);
      if (i === path.length - 1) {
        node[k] = value;
      } else {
        const next = node[k];
        if (typeof next !== 'object') node[k] = {};
        node = node[k] as Record<string, PhpValue>;
      }
    }
  }
  return root;
}

/** The entries of a PHP list in index order, or undefined if `v` is not a list. */
export function asList(v: PhpValue | undefined): PhpValue[] | undefined {
  if (v === undefined) return [];
  if (typeof v === 'string') return undefined;
  const keys = Object.keys(v);
  if (!keys.every((k) => /^\d+$/.test(k))) return undefined;
  return keys.sort((a, b) => Number(a) - Number(b)).map((k) => v[k]!);
}
