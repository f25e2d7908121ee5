import { Redis } from 'ioredis';
import { coerceError } from '../errors.js';
import type { Logger } from '../lib/logger.js';

export interface SharedRedisOptions {
  url: string;
  /** Key prefix, so several evosync clusters (or other programs) can share one Redis. */
  prefix: string;
  /** Longest wait for one command; past it the caller's fallback is used. */
  commandTimeoutMs: number;
}

/**
 * The optional Redis every process of a cluster shares. Redis is a help, never a dependency:
 * every call has a short timeout and a fallback, nothing is queued while it is away (ioredis'
 * offline queue is off, so a call fails at once instead of piling up), and the client reconnects
 * forever in the background. Callers ask `up` (for /readyz and metrics) and use `run`.
 */
export class SharedRedis {
  readonly client: Redis;
  readonly prefix: string;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  #wasUp: boolean | null = null;
  #lastError: string | null = null;
  #closed = false;

  constructor(opts: SharedRedisOptions, logger: Logger) {
    this.prefix = opts.prefix;
    this.#logger = logger;
    this.#timeoutMs = opts.commandTimeoutMs;
    this.client = new Redis(opts.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs * 4),
      // Capped backoff, forever: a Redis restart is an ordinary event, not a reason to give up.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      reconnectOnError: () => true,
    });
    this.client.on('ready', () => this.#note(true));
    this.client.on('error', (error: unknown) => {
      this.#lastError = coerceError(error).message;
    });
    this.client.on('end', () => this.#note(false));
    this.client.on('close', () => this.#note(false));
  }

  /** Connects in the background; evosync starts (and works) whether or not Redis answers. */
  start(): void {
    this.client.connect().catch(() => {
      // retryStrategy keeps trying; the state is reported through `up`.
    });
  }

  get up(): boolean {
    return this.client.status === 'ready';
  }

  /** Why Redis is not usable, for /readyz (null while it is). */
  problem(): string | null {
    return this.up ? null : `redis: ${this.client.status}${this.#lastError ? ` (${this.#lastError})` : ''}`;
  }

  key(...parts: (string | number)[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  /**
   * Runs `fn` against Redis, or returns `fallback` when Redis is down, slow or failing. Never
   * throws: the caller's path without Redis is always the correct one, only slower.
   */
  async run<T>(fn: (r: Redis) => Promise<T>, fallback: T): Promise<T> {
    if (!this.up) return fallback;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.#timeoutMs);
      });
      const r = await Promise.race([fn(this.client), timeout]);
      return r === 'timeout' ? fallback : r;
    } catch (error) {
      this.#lastError = coerceError(error).message;
      return fallback;
    } finally {
      clearTimeout(timer);
    }
  }

  #note(up: boolean): void {
    if (this.#closed || this.#wasUp === up) return;
    // The first "down" before Redis ever answered is the start-up state, logged once as a warning.
    if (up) this.#logger.info({}, this.#wasUp === null ? 'redis connected' : 'redis back: shared cache and cluster rate limit in use again');
    else this.#logger.warn({ reason: this.#lastError }, 'redis unavailable: using the ledger and per-process rate limits until it is back');
    this.#wasUp = up;
  }

  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
