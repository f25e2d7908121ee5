/** The policy of every page: nothing but inline styles, images of its own, forms to itself. */
const BASE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * Security headers of every dashboard answer: no script may run (pages have none), styles only
 * inline, no framing, no caching of pages that show message content, no referrer carrying ids to
 * other sites.
 */
export const HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': BASE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on form posts.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/**
 * The overview alone, which updates itself: the same policy plus evosync's own script file
 * (never an inline one, never another origin's) and requests back to evosync (the live stream and
 * the fragments it re-reads). Every other page keeps the policy above, where no script runs at all.
 */
export const LIVE_PAGE_HEADERS: Readonly<Record<string, string>> = {
  ...HEADERS,
  'content-security-policy': `${BASE_CSP}; script-src 'self'; connect-src 'self'`,
};
