/**
 * Rack's nested-parameter convention for form bodies: `a[b]=1` → {a:{b:"1"}}, `a[]=x` → {a:["x"]},
 * `a[][k]=v` → array of hashes. Needed so multipart `attachments[]` and urlencoded payloads land
 * in the same shape a JSON body would.
 */

type Value = unknown;
type Params = Record<string, Value>;

function segmentsOf(key: string): string[] | null {
  const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
  if (!m) return null;
  const rest = m[2] ?? '';
  const segments = [m[1] as string];
  for (const s of rest.matchAll(/\[([^[\]]*)\]/g)) segments.push(s[1] ?? '');
  return segments;
}

export function setNested(target: Params, key: string, value: Value): void {
  const segments = segmentsOf(key);
  if (!segments) {
    target[key] = value;
    return;
  }
  let node: Params = target;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    const last = i === segments.length - 1;
    const nextSeg = segments[i + 1];
    if (last) {
      node[seg] = value;
      return;
    }
    if (nextSeg === '') {
      // `seg[]…`: an array under seg.
      const arr = Array.isArray(node[seg]) ? (node[seg] as Value[]) : (node[seg] = []) as Value[];
      if (i + 1 === segments.length - 1) {
        arr.push(value);
        return;
      }
      // `seg[][child]…`: append a new hash unless the last one still lacks `child`.
      const child = segments[i + 2] as string;
      let lastHash = arr.at(-1) as Params | undefined;
      if (!lastHash || typeof lastHash !== 'object' || child in lastHash) {
        lastHash = {};
        arr.push(lastHash);
      }
      setNested(lastHash, [child, ...segments.slice(i + 3).map((s) => `[${s}]`)].join(''), value);
      return;
    }
    if (typeof node[seg] !== 'object' || node[seg] === null || Array.isArray(node[seg])) node[seg] = {};
    node = node[seg] as Params;
  }
}

export function fromPairs(pairs: Iterable<[string, Value]>): Params {
  const out: Params = {};
  for (const [k, v] of pairs) setNested(out, k, v);
  return out;
}
