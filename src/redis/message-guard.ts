import type { MessageGuardPort } from '../lanes/dispatcher.js';
import type { SharedRedis } from './shared-redis.js';

/** Deletes the guard only if it is still ours: one that expired and was taken by another stays. */
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * "Being processed" marker per message (SET NX PX), a second line against duplicates behind the
 * lane lease: if a lease were ever lost while its owner still worked (a stalled process, a clock
 * jump), the process taking over finds the marker and waits instead of sending the same message.
 * It lives no longer than a lease, so a killed owner's marker is gone by the time its lane is
 * reaped. Redis away = no marker, and the lease alone decides, as without Redis.
 */
export class MessageGuard implements MessageGuardPort {
  readonly #redis: SharedRedis;
  readonly #owner: string;
  readonly #ttlMs: number;

  constructor(redis: SharedRedis, owner: string, ttlMs: number) {
    this.#redis = redis;
    this.#owner = owner;
    this.#ttlMs = ttlMs;
    redis.client.defineCommand('evosyncRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  }

  async claim(messageId: number): Promise<boolean> {
    const r = await this.#redis.run((c) => c.set(this.#key(messageId), this.#owner, 'PX', this.#ttlMs, 'NX'), 'OK' as const);
    return r === 'OK';
  }

  async release(messageId: number): Promise<void> {
    await this.#redis.run((c) => (c as unknown as { evosyncRelease: (key: string, owner: string) => Promise<number> }).evosyncRelease(this.#key(messageId), this.#owner), 0);
  }

  #key(messageId: number): string {
    return this.#redis.key('busy', messageId);
  }
}
