/**
 * Text that can be a key in any ledger: no C0 control character or DEL, no surrogate without its
 * other half. PostgreSQL refuses a NUL in text and an unpaired surrogate in JSON; ids, JIDs and
 * instance names become keys, so they are held to this (message text is not: it travels as JSON).
 */
// eslint-disable-next-line no-control-regex
const NOT_KEY_TEXT = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const NOT_KEY_TEXT_ALL = new RegExp(NOT_KEY_TEXT.source, 'g');

export function isKeyText(s: string): boolean {
  return !NOT_KEY_TEXT.test(s);
}

/** The same text with every character a key cannot hold as U+FFFD (for keeping refused input readable). */
export function asKeyText(s: string): string {
  return s.replace(NOT_KEY_TEXT_ALL, '\ufffd');
}
