import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'evosync_session';

export interface Session {
  user: string;
  /** Random per login; the CSRF token is derived from it. */
  sid: string;
  expiresAt: number;
}

/**
 * Signed, stateless session cookies: `base64url(json).base64url(hmac)`. The key is random per
 * process, so a restart logs everyone out and nothing secret is ever derived from the password.
 * (Several nodes behind one address need sticky sessions.) Logout revokes the session id until it
 * would have expired anyway.
 */
export class Sessions {
  readonly #key = randomBytes(32);
  readonly #ttlMs: number;
  readonly #revoked = new Map<string, number>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  issue(user: string, nowMs: number): { cookie: string; session: Session } {
    const session: Session = { user, sid: randomBytes(16).toString('base64url'), expiresAt: nowMs + this.#ttlMs };
    const payload = Buffer.from(JSON.stringify({ u: session.user, s: session.sid, e: session.expiresAt })).toString('base64url');
    return { cookie: `${payload}.${this.#sign(payload)}`, session };
  }

  verify(cookie: string | undefined, nowMs: number): Session | null {
    if (!cookie || cookie.length > 1024) return null;
    const dot = cookie.indexOf('.');
    if (dot <= 0) return null;
    const payload = cookie.slice(0, dot);
    if (!equal(cookie.slice(dot + 1), this.#sign(payload))) return null;
    let parsed: { u?: unknown; s?: unknown; e?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof parsed;
    } catch {
      return null;
    }
    if (typeof parsed.u !== 'string' || typeof parsed.s !== 'string' || typeof parsed.e !== 'number') return null;
    if (parsed.e <= nowMs || this.#revoked.has(parsed.s)) return null;
    return { user: parsed.u, sid: parsed.s, expiresAt: parsed.e };
  }

  revoke(session: Session, nowMs: number): void {
    for (const [sid, until] of this.#revoked) if (until <= nowMs) this.#revoked.delete(sid);
    this.#revoked.set(session.sid, session.expiresAt);
  }

  /** The token every state-changing form carries; bound to the session, so a stolen page is useless after logout. */
  csrfToken(session: Session): string {
    return this.#sign(`csrf:${session.sid}`);
  }

  checkCsrf(session: Session, presented: string | null | undefined): boolean {
    return typeof presented === 'string' && equal(presented, this.csrfToken(session));
  }

  #sign(data: string): string {
    return createHmac('sha256', this.#key).update(data).digest('base64url');
  }
}

function equal(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
