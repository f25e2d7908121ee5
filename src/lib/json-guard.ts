import { coerceError } from '../errors.js';

/**
 * Deepest nesting a webhook or broker body may have. Real events are shallow: Evolution's deepest
 * (a quoted, disappearing, view-once media message) is about 15 levels, Chatwoot's about 8. A body
 * nested thousands deep is an attack on every recursive walk after the parse (schema checks,
 * content extraction, logging) and is refused before any of them runs.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `raw` nests objects and arrays deeper than `max`, found in one pass over the text
 * without parsing it (so without building the structure the limit protects against). Brackets
 * inside strings do not count. Malformed text is answered too: JSON.parse will refuse it anyway.
 */
export function jsonDeeperThan(raw: string, max: number): boolean {
  // Nesting deeper than `max` takes more than `max` opening brackets: most bodies have far fewer,
  // and counting them (indexOf runs natively) is much cheaper than walking every character.
  let opening = 0;
  for (let i = raw.indexOf('{'); i !== -1 && opening <= max; i = raw.indexOf('{', i + 1)) opening += 1;
  for (let i = raw.indexOf('['); i !== -1 && opening <= max; i = raw.indexOf('[', i + 1)) opening += 1;
  if (opening <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: the next character is escaped, whatever it is
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return false;
}

/**
 * Why JSON.parse refused a body, without the excerpt of the input V8 puts in its message
 * (`Unexpected token 'x', "…"apikey":"abc…" is not valid JSON`): the reason is logged and stored,
 * and the excerpt may be a credential.
 */
export function jsonErrorReason(error: unknown): string {
  const message = coerceError(error).message;
  const position = /\bposition (\d+)/.exec(message)?.[1];
  const head = (message.split(/,\s*(?:\.\.\.)?"/)[0] ?? message).slice(0, 120);
  return position !== undefined && !head.includes('position') ? `${head} at position ${position}` : head;
}
