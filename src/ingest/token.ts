import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time comparison; hashing first makes it constant-time for different lengths too. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * safeEqual against one fixed secret, its digest taken once: a route that checks the same token on
 * every request (the webhook: thousands a second) hashes only what it is presented.
 */
export function tokenMatcher(expected: string): (presented: string) => boolean {
  const want = digest(expected);
  return (presented) => timingSafeEqual(digest(presented), want);
}

/**
 * Where Evolution can carry our token. A per-instance webhook can send any header (Evolution
 * sends its `headers` object as-is); the global webhook sends none, so the token must then be in
 * the URL — as a path segment when by-events mode is on, since Evolution appends `/<event>` to the
 * URL and would mangle a query string.
 */
export function presentedToken(headers: Record<string, unknown>, query: Record<string, unknown>, pathToken?: string): string | null {
  if (pathToken) return pathToken;
  const auth = headers['authorization'];
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const header = headers['x-evosync-token'];
  if (typeof header === 'string' && header) return header;
  const q = query['token'];
  if (typeof q === 'string' && q) return q;
  return null;
}
