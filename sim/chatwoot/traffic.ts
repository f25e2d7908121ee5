/**
 * Request accounting and Rack::Attack-style throttling. Throttles run before anything else
 * (Rack middleware precedes Rails), use fixed windows aligned to the epoch (`floor(now/period)`),
 * and answer exactly like Rack::Attack's default responder: 429, text/plain, "Retry later\n",
 * with no Retry-After header. localhost is deliberately NOT safelisted (real Chatwoot safelists
 * 127.0.0.1/::1) because every test talks to the fake over loopback.
 */
import type { ChatwootStats } from './types.js';

export class Stats {
  private data: ChatwootStats = { requests: 0, byRoute: {}, byStatus: {}, rateLimited: 0 };

  request(route: string): void {
    this.data.requests++;
    this.data.byRoute[route] = (this.data.byRoute[route] ?? 0) + 1;
  }

  status(key: string | number): void {
    const k = String(key);
    this.data.byStatus[k] = (this.data.byStatus[k] ?? 0) + 1;
  }

  rateLimited(): void {
    this.data.rateLimited++;
  }

  snapshot(): ChatwootStats {
    return structuredClone(this.data);
  }

  reset(): void {
    this.data = { requests: 0, byRoute: {}, byStatus: {}, rateLimited: 0 };
  }
}

const SEARCH_PATH = /\/api\/v1\/accounts\/(\d+)\/contacts\/search/;

export interface RateLimitConfig {
  perIpPerMinute: number;
  searchPerAccountPerMinute: number;
  clock: () => number;
}

export class RateLimiter {
  private window = -1;
  private readonly counters = new Map<string, number>();

  constructor(private readonly config: RateLimitConfig) {}

  /**
   * True when the request must be throttled. Like Rack::Attack's `throttles.any?`, the throttles
   * are evaluated in definition order and evaluation stops at the first one that trips, so a
   * request refused by req/ip does not also consume search budget.
   */
  throttled(ip: string, path: string): boolean {
    const window = Math.floor(this.config.clock() / 60_000);
    if (window !== this.window) {
      this.window = window;
      this.counters.clear(); // old windows' keys would have expired in Redis
    }
    if (this.hit(`req/ip:${ip}`) > this.config.perIpPerMinute) return true;
    const search = SEARCH_PATH.exec(path);
    if (search && this.hit(`search:${search[1]}`) > this.config.searchPerAccountPerMinute) return true;
    return false;
  }

  private hit(key: string): number {
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    return n;
  }
}
