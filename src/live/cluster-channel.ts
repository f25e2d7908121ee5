import type { Redis } from 'ioredis';
import { coerceError } from '../errors.js';
import type { Logger } from '../lib/logger.js';
import type { SharedRedis } from '../redis/shared-redis.js';
import { type ChangeSet, parseChangeSet } from './changes.js';
import type { LiveChannel } from './live-feed.js';

/** Longest message read from the channel; a change set of every instance is far below it. */
const MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * The cluster's "something changed" channel: Redis pub/sub under the shared key prefix, so two
 * clusters on one Redis never hear each other. Publishing goes through the shared client (its
 * timeout and fallback: Redis away = nothing is sent, nothing waits). Listening needs a connection
 * of its own, since a subscribed client can run no other command. Pub/sub keeps nothing: what is
 * published while a process is not listening is lost, which `onState` reports so the reader can
 * read the ledger again instead.
 */
export class ClusterChannel implements LiveChannel {
  readonly #redis: SharedRedis;
  readonly #origin: string;
  readonly #logger: Logger;
  readonly name: string;
  #sub: Redis | null = null;
  #listening = false;
  #stopped = false;
  #onChanges: (changes: ChangeSet) => void = () => {};
  #onState: (listening: boolean) => void = () => {};
  published = 0;
  received = 0;
  /** Messages on the channel that were not a change set of ours (another program, or a bug). */
  dropped = 0;

  constructor(redis: SharedRedis, origin: string, logger: Logger) {
    this.#redis = redis;
    this.#origin = origin;
    this.#logger = logger;
    this.name = redis.key('live');
  }

  /** True while subscribed: other processes' changes arrive within their coalescing window. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Changes of the other processes (this process's own are never handed back). */
  onChanges(fn: (changes: ChangeSet) => void): void {
    this.#onChanges = fn;
  }

  onState(fn: (listening: boolean) => void): void {
    this.#onState = fn;
  }

  start(): void {
    if (this.#sub || this.#stopped) return;
    // Subscribed again by hand on every (re)connect, so `listening` is true only once it holds.
    const sub = this.#redis.client.duplicate({ autoResubscribe: false });
    this.#sub = sub;
    sub.on('error', () => {
      // The shared client logs Redis being away; this connection follows the same fate.
    });
    sub.on('ready', () => {
      sub.subscribe(this.name).then(
        () => this.#set(true),
        (error: unknown) => this.#logger.debug({ err: coerceError(error) }, 'live updates: subscribe failed; retried on reconnect'),
      );
    });
    sub.on('close', () => this.#set(false));
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.#receive(message));
    sub.connect().catch(() => {
      // The retry strategy (the shared client's: forever, capped) keeps trying.
    });
  }

  /** Fire and forget: a lost publish costs a dashboard a refresh, never a message. */
  publish(changes: ChangeSet): void {
    if (!this.#redis.up) return;
    const payload = JSON.stringify({ v: 1, o: this.#origin, c: changes });
    void this.#redis.run(async (c) => {
      await c.publish(this.name, payload);
      this.published += 1;
    }, undefined);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const sub = this.#sub;
    this.#sub = null;
    this.#set(false);
    if (!sub) return;
    try {
      await sub.quit();
    } catch {
      sub.disconnect();
    }
  }

  #receive(message: Buffer): void {
    if (message.length > MAX_MESSAGE_BYTES) {
      this.dropped += 1;
      return;
    }
    let parsed: { v?: unknown; o?: unknown; c?: unknown };
    try {
      parsed = JSON.parse(message.toString('utf8')) as typeof parsed;
    } catch {
      this.dropped += 1;
      return;
    }
    if (parsed?.o === this.#origin) return;
    const changes = parsed?.v === 1 && typeof parsed.o === 'string' ? parseChangeSet(parsed.c) : null;
    if (!changes) {
      this.dropped += 1;
      return;
    }
    this.received += 1;
    this.#onChanges(changes);
  }

  #set(listening: boolean): void {
    if (this.#listening === listening || (listening && this.#stopped)) return;
    this.#listening = listening;
    this.#onState(listening);
  }
}
