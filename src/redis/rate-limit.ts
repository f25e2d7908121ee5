import type { Redis } from 'ioredis';
import { delay } from '../lib/sleep.js';
import type { SharedRedis } from './shared-redis.js';

/**
 * One limit: at most `limit` acquisitions in any `windowMs`. `shared` limits are the whole
 * cluster's (Chatwoot counts them per client IP or per account, whichever process sends);
 * unshared ones are only ever spent by one process at a time (a conversation's messages are sent
 * by the one process that holds its chat's lane).
 */
export interface RateRule {
  key: string;
  limit: number;
  windowMs: number;
  shared: boolean;
}

export interface RateLimiter {
  /** Resolves once one more request may be sent under every rule (or when `signal` aborts). */
  acquire(rules: readonly RateRule[], signal?: AbortSignal): Promise<void>;
}

/**
 * Sliding-window log in memory: exact, and safe against Chatwoot's fixed windows whatever their
 * alignment (any 60 s span, so every epoch-aligned minute, holds at most `limit`).
 */
/** Longer than any rule's window (Chatwoot's are a minute). */
const KEEP_MS = 5 * 60_000;

export class LocalRateLimiter implements RateLimiter {
  readonly #log = new Map<string, number[]>();
  readonly #now: () => number;
  /** Divides shared limits: this process's part of the cluster's budget. */
  share: () => number = () => 1;
  #sweepAt = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async acquire(rules: readonly RateRule[], signal?: AbortSignal): Promise<void> {
    for (;;) {
      const wait = this.tryAcquire(rules);
      if (wait === 0 || signal?.aborted) return;
      await delay(wait, signal);
    }
  }

  /** 0 when acquired (and recorded), else how long to wait before trying again. */
  tryAcquire(rules: readonly RateRule[]): number {
    const now = this.#now();
    this.#sweep(now);
    let wait = 0;
    for (const r of rules) {
      const log = this.#prune(r.key, now - r.windowMs);
      const limit = this.limitOf(r);
      if (log.length >= limit) wait = Math.max(wait, (log[log.length - limit] ?? now) + r.windowMs - now + 1);
    }
    if (wait > 0) return wait;
    for (const r of rules) this.record(r.key, now);
    return 0;
  }

  limitOf(r: RateRule): number {
    return r.shared ? Math.max(1, Math.floor(r.limit / Math.max(1, this.share()))) : r.limit;
  }

  record(key: string, at: number, times = 1): void {
    let log = this.#log.get(key);
    if (!log) this.#log.set(key, (log = []));
    for (let i = 0; i < times; i++) log.push(at);
    // Kept for the longest window only, also while Redis decides and nothing here prunes.
    this.#prune(key, at - KEEP_MS);
  }

  /** Acquisitions still inside the window (own history, for handing back to Redis). */
  entries(key: string, sinceMs: number): number[] {
    return (this.#log.get(key) ?? []).filter((at) => at > sinceMs);
  }

  count(key: string, sinceMs: number): number {
    return this.entries(key, sinceMs).length;
  }

  keys(): string[] {
    return [...this.#log.keys()];
  }

  #prune(key: string, before: number): number[] {
    const log = this.#log.get(key);
    if (!log) return [];
    let drop = 0;
    while (drop < log.length && (log[drop] ?? 0) <= before) drop++;
    if (drop > 0) log.splice(0, drop);
    return log;
  }

  /** Conversations come and go: their empty logs are dropped now and then. */
  #sweep(now: number): void {
    if (now < this.#sweepAt) return;
    this.#sweepAt = now + 60_000;
    for (const [key, log] of this.#log) if (log.length === 0 || (log[log.length - 1] ?? 0) < now - 10 * 60_000) this.#log.delete(key);
  }
}

/**
 * Atomic sliding-window log over every rule of one request: either all rules have room and the
 * request is recorded under each, or nothing is recorded and the wait until the first slot frees
 * is returned. Redis' own clock is used, so processes on machines with skewed clocks agree.
 * Returns {wait, count of the first rule after recording}.
 */
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local first = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if i == 1 then first = n end
  if n >= limit then
    local oldest = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now + 1
    if w > wait then wait = w end
  end
end
if wait > 0 then return {wait, first} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return {0, first + 1}
`;

type AcquireCommand = (numKeys: number, ...args: (string | number)[]) => Promise<[number, number]>;

/** How often a process says it is alive, and how long until it counts as gone. */
const HEARTBEAT_MS = 5_000;
const PROCESS_TTL_MS = 15_000;
/** Longer than any rule's window plus the TTL: a gone process's requests have left every window. */
const PROCESS_MEMORY_MS = 80_000;

/**
 * The cluster-wide limiter: every process of the cluster draws from the same windows in Redis, so
 * together they never pass Chatwoot's limits. When Redis is away each process falls back to its own
 * part of the budget (the limit divided by the processes last seen alive), counting from what the
 * cluster had already spent in the current window. When Redis is back each process writes back
 * every request of its own still in the window, under the member names Redis knew them by (so a
 * Redis that kept them counts nothing twice, and one restarted empty learns them again), and keeps
 * to its own part as an extra bound for one window, until every other process has done the same.
 */
export class ClusterRateLimiter implements RateLimiter {
  readonly #redis: SharedRedis;
  readonly #local: LocalRateLimiter;
  readonly #owner: string;
  readonly #now: () => number;
  #seq = 0;
  #queue: Promise<void> = Promise.resolve();
  /** Live processes seen by each heartbeat of the last window (see `processes`). */
  #seen: { at: number; n: number }[] = [];
  #mode: 'redis' | 'local' = 'local';
  /** Until then, a process back on Redis also keeps to its own part of the budget. */
  #recoveringUntil = 0;
  /** Shared rules' cluster counts as last seen in Redis, for the hand-over to local limits. */
  readonly #lastCount = new Map<string, { n: number; windowMs: number }>();
  /** This process's own requests under shared rules, with their Redis member names. */
  readonly #own = new Map<string, { at: number; member: string }[]>();
  #heartbeat: NodeJS.Timeout | null = null;
  /** Acquisitions decided by Redis and by the local fallback, and hand-overs to the fallback (/api/stats). */
  readonly counts = { redis: 0, local: 0, takeovers: 0 };

  constructor(redis: SharedRedis, owner: string, now: () => number = Date.now) {
    this.#redis = redis;
    this.#owner = owner;
    this.#now = now;
    this.#local = new LocalRateLimiter(now);
    this.#local.share = () => this.processes;
    redis.client.defineCommand('evosyncAcquire', { lua: ACQUIRE_LUA });
  }

  /**
   * The most processes seen alive within the last window: a process that died (or a Redis that
   * restarted empty and has not heard from everyone yet) keeps its share reserved until the
   * requests it may have sent have left Chatwoot's window.
   */
  get processes(): number {
    const since = this.#now() - PROCESS_MEMORY_MS;
    this.#seen = this.#seen.filter((s) => s.at > since);
    return Math.max(1, ...this.#seen.map((s) => s.n));
  }

  start(): void {
    const beat = () => void this.#beat();
    beat();
    this.#heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  stop(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  /**
   * A conversation's own limit first (only its lane waits on it), then the shared ones in this
   * process's FIFO: one waiter at a time asks Redis, instead of every waiting lane polling it each
   * time a slot frees, and lanes get their turns in the order they asked.
   */
  async acquire(rules: readonly RateRule[], signal?: AbortSignal): Promise<void> {
    const own = rules.filter((r) => !r.shared);
    const shared = rules.filter((r) => r.shared);
    if (own.length > 0) await this.#loop(own, signal);
    if (shared.length === 0) return;
    const turn = this.#queue.then(() => this.#loop(shared, signal));
    this.#queue = turn.catch(() => {});
    await turn;
  }

  async #loop(rules: readonly RateRule[], signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) return;
      const wait = await this.#try(rules);
      if (wait === 0) return;
      await delay(Math.min(wait, 1000), signal);
    }
  }

  async #try(rules: readonly RateRule[]): Promise<number> {
    const now = this.#now();
    const member = `${this.#owner}:${++this.#seq}`;
    if (this.#redis.up) {
      if (this.#mode === 'local') await this.#handBack(now);
      // Recovering: this process's own part must have room too (checked first, recorded below).
      if (now < this.#recoveringUntil) {
        const w = this.#localWait(rules, now);
        if (w > 0) return w;
      }
      const r = await this.#redisTry(rules, member);
      if (r !== null) {
        if (r[0] > 0) return r[0];
        this.counts.redis += 1;
        const first = rules[0];
        if (first?.shared) this.#lastCount.set(first.key, { n: r[1], windowMs: first.windowMs });
        this.#recordOwn(rules, now, member);
        return 0;
      }
    }
    if (this.#mode === 'redis') this.#takeOver(now);
    const wait = this.#local.tryAcquire(rules);
    if (wait > 0) return wait;
    this.counts.local += 1;
    this.#recordOwn(rules, now, member, false);
    return 0;
  }

  /** Every request is kept in the local log too (own history); shared ones also with their name. */
  #recordOwn(rules: readonly RateRule[], now: number, member: string, local = true): void {
    for (const rule of rules) {
      if (local) this.#local.record(rule.key, now);
      if (!rule.shared) continue;
      let own = this.#own.get(rule.key);
      if (!own) this.#own.set(rule.key, (own = []));
      own.push({ at: now, member });
      let drop = 0;
      while (drop < own.length && (own[drop]?.at ?? 0) <= now - rule.windowMs) drop++;
      if (drop > 0) own.splice(0, drop);
    }
  }

  #localWait(rules: readonly RateRule[], now: number): number {
    let wait = 0;
    for (const r of rules) {
      const log = this.#local.entries(r.key, now - r.windowMs);
      const limit = this.#local.limitOf(r);
      if (log.length >= limit) wait = Math.max(wait, (log[log.length - limit] ?? now) + r.windowMs - now + 1);
    }
    return wait;
  }

  #redisTry(rules: readonly RateRule[], member: string): Promise<[number, number] | null> {
    const args: (string | number)[] = [...rules.map((r) => this.#redis.key('rl', r.key)), member];
    for (const r of rules) args.push(r.limit, r.windowMs);
    return this.#redis.run((c) => (c as unknown as { evosyncAcquire: AcquireCommand }).evosyncAcquire(rules.length, ...args), null);
  }

  /**
   * Redis just went away: from here this process counts alone, starting from its part of what the
   * cluster had already spent in the window (its own history may be less than its part).
   */
  #takeOver(now: number): void {
    this.#mode = 'local';
    this.counts.takeovers += 1;
    for (const [key, { n, windowMs }] of this.#lastCount) {
      const part = Math.ceil(n / this.processes);
      const own = this.#local.count(key, now - windowMs);
      // Stand-ins for the others' requests; they are never handed back to Redis as this process's.
      if (part > own) this.#local.record(key, now - 1, part - own);
    }
  }

  /** Redis is back (possibly restarted empty): this process's requests in the window are written back. */
  async #handBack(now: number): Promise<void> {
    this.#mode = 'redis';
    let longest = 0;
    for (const [key, own] of this.#own) {
      const windowMs = this.#lastCount.get(key)?.windowMs ?? 60_000;
      longest = Math.max(longest, windowMs);
      const live = own.filter((e) => e.at > now - windowMs);
      if (live.length === 0) continue;
      const members: (string | number)[] = [];
      // Scores on the local clock: within a few ms of Redis' on one host; the extra bound below
      // and the window margin cover the rest.
      for (const e of live) members.push(e.at, e.member);
      const k = this.#redis.key('rl', key);
      await this.#redis.run((c: Redis) => c.multi().zadd(k, ...members).pexpire(k, windowMs).exec(), null);
    }
    this.#recoveringUntil = now + longest;
  }

  async #beat(): Promise<void> {
    const key = this.#redis.key('processes');
    const n = await this.#redis.run(async (c) => {
      const now = this.#now();
      const r = await c.multi().zadd(key, now, this.#owner).zremrangebyscore(key, '-inf', now - PROCESS_TTL_MS).zcard(key).pexpire(key, PROCESS_TTL_MS * 2).exec();
      const card = r?.[2]?.[1];
      return typeof card === 'number' ? card : null;
    }, null);
    if (n !== null && n > 0) this.#seen.push({ at: this.#now(), n });
  }

  /** Leaving: the others stop counting this process at once. */
  async leave(): Promise<void> {
    this.stop();
    await this.#redis.run((c) => c.zrem(this.#redis.key('processes'), this.#owner), 0);
  }
}

/** Rack::Attack's windows are counted when a request arrives: a margin covers the time in between. */
const WINDOW_MARGIN_MS = 3_000;
/**
 * Shared limits are kept 2% below Chatwoot's: the cluster's view of its own requests can lag by a
 * few (a Redis hand-over, a stalled process, a request counted late on the way), and a 429 costs a
 * minute's pause where the headroom costs 2% of throughput.
 */
const HEADROOM = 0.98;

export interface ChatwootLimits {
  /** Chatwoot's RACK_ATTACK_LIMIT: requests per minute per client IP (the whole cluster). */
  requestsPerMinute: number;
  /** RATE_LIMIT_CONTACT_SEARCH: contacts/search per minute per account. */
  searchPerMinute: number;
  /** The model-level flood guard: messages per conversation per minute. */
  messagesPerConversationPerMinute: number;
}

const SEARCH_PATH = /^\/api\/v1\/accounts\/(\d+)\/contacts\/search(?:$|[/?])/;
const MESSAGE_CREATE = /^\/api\/v1\/accounts\/(\d+)\/conversations\/(\d+)\/messages\/?$/;

/**
 * The rules one Chatwoot request counts against, keyed by Chatwoot origin (one origin = one
 * Rack::Attack, and evosync's cluster = one client as far as its per-IP limit goes).
 */
export function chatwootRules(origin: string, method: string, path: string, limits: ChatwootLimits): RateRule[] {
  const window = 60_000 + WINDOW_MARGIN_MS;
  const rules: RateRule[] = [];
  const kept = (limit: number) => Math.max(1, Math.floor(limit * HEADROOM));
  if (limits.requestsPerMinute > 0) rules.push({ key: `cw:${origin}:ip`, limit: kept(limits.requestsPerMinute), windowMs: window, shared: true });
  const search = SEARCH_PATH.exec(path);
  if (search && limits.searchPerMinute > 0) rules.push({ key: `cw:${origin}:search:${search[1]}`, limit: kept(limits.searchPerMinute), windowMs: window, shared: true });
  const create = method === 'POST' ? MESSAGE_CREATE.exec(path) : null;
  if (create && limits.messagesPerConversationPerMinute > 0) {
    rules.push({ key: `cw:${origin}:conv:${create[1]}:${create[2]}`, limit: limits.messagesPerConversationPerMinute, windowMs: window, shared: false });
  }
  return rules;
}
