/**
 * Slows password guessing: a client address gets `perClient` failed logins per window, and all
 * clients together `global` per minute (guessing from many addresses). Success clears the client.
 * In memory: a restart resets it, which costs a guesser a restart it cannot cause.
 */
export interface LoginLimits {
  perClient: number;
  windowMs: number;
  global: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perClient: 5, windowMs: 15 * 60_000, global: 30 };

export class LoginLimiter {
  readonly #limits: LoginLimits;
  readonly #clients = new Map<string, { failures: number; since: number }>();
  #global = { failures: 0, since: 0 };

  constructor(limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {
    this.#limits = limits;
  }

  /** Seconds to wait before another attempt is even checked; 0 = go ahead. */
  retryAfterSeconds(client: string, nowMs: number): number {
    const g = this.#global;
    if (nowMs - g.since < 60_000 && g.failures >= this.#limits.global) return Math.ceil((g.since + 60_000 - nowMs) / 1000);
    const c = this.#clients.get(client);
    if (c && nowMs - c.since < this.#limits.windowMs && c.failures >= this.#limits.perClient) return Math.ceil((c.since + this.#limits.windowMs - nowMs) / 1000);
    return 0;
  }

  failed(client: string, nowMs: number): void {
    if (nowMs - this.#global.since >= 60_000) this.#global = { failures: 0, since: nowMs };
    this.#global.failures += 1;
    const c = this.#clients.get(client);
    if (!c || nowMs - c.since >= this.#limits.windowMs) this.#clients.set(client, { failures: 1, since: nowMs });
    else c.failures += 1;
    // Bounded memory under a spray of addresses: expired entries go first.
    if (this.#clients.size > 10_000) for (const [k, v] of this.#clients) if (nowMs - v.since >= this.#limits.windowMs) this.#clients.delete(k);
    // Still too many: the oldest go (the global limit still holds those clients back).
    for (const k of this.#clients.keys()) {
      if (this.#clients.size <= 10_000) break;
      this.#clients.delete(k);
    }
  }

  succeeded(client: string): void {
    this.#clients.delete(client);
  }
}
