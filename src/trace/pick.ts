/** Longest string kept in a trace; longer ones (base64 thumbnails, media) are summarised. */
const MAX_STRING = 400;

/** The named fields of an upstream object, with long strings cut so a trace stays readable. */
export function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = trimLarge(obj[k]);
  return out;
}

export function trimLarge(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `[${value.length} characters]` : value;
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => trimLarge(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = trimLarge(v, depth + 1);
  return out;
}
