import { coerceError } from '../errors.js';
import type { Logger } from '../lib/logger.js';
import type { ActivitySink, ChangeSet, LiveChange, LiveMode } from './changes.js';
import { ChangeCoalescer } from './coalescer.js';
import { LedgerWatch } from './ledger-watch.js';

export interface LiveListener {
  change(c: LiveChange): void;
  /** The way the cluster's changes arrive changed (Redis lost or back). */
  mode(m: LiveMode): void;
}

/** What the dashboard sees of live updates. */
export interface LiveSource {
  readonly mode: LiveMode;
  /** How late other processes' work may show in `ledger` mode. */
  readonly ledgerPollMs: number;
  /** Returns the unsubscribe; while anyone listens (and only then) the ledger poll may run. */
  subscribe(listener: LiveListener): () => void;
}

export interface LiveFeedOptions {
  /** At most one change set per this period leaves the process (Redis) and reaches its listeners. */
  coalesceMs: number;
  ledgerPollMs: number;
}

/** How changes cross processes (Redis pub/sub: cluster-channel.ts). */
export interface LiveChannel {
  /** True while the other processes' changes arrive. */
  readonly listening: boolean;
  readonly published: number;
  readonly received: number;
  readonly dropped: number;
  onChanges(fn: (changes: ChangeSet) => void): void;
  onState(fn: (listening: boolean) => void): void;
  publish(changes: ChangeSet): void;
  start(): void;
  stop(): Promise<void>;
}

export interface LiveFeedDeps {
  /** Redis pub/sub; null without Redis. */
  channel: LiveChannel | null;
  /**
   * Reads what the dashboard shows from the ledger, for the poll; null when no other process can
   * write this ledger (SQLite: one process per file), so this process sees every change itself.
   */
  fingerprint: (() => Promise<string>) | null;
  /** Told of every change before the listeners are (caches of what they will re-read are dropped). */
  changed?: () => void;
  logger: Logger;
}

/**
 * Live updates of one process: its own changes (noted by the busy parts through `activity`,
 * coalesced) go to its listeners and, through Redis, to every other process; the others' changes
 * come back the same way. Without Redis, or while it is away, a shared ledger is polled instead,
 * only while someone listens: the dashboard keeps updating, others' work just shows up later.
 */
export class LiveFeed implements LiveSource {
  readonly #channel: LiveChannel | null;
  readonly #watch: LedgerWatch | null;
  readonly #coalescer: ChangeCoalescer;
  readonly #logger: Logger;
  readonly #changed: () => void;
  readonly #listeners = new Set<LiveListener>();
  readonly #ledgerPollMs: number;
  #mode: LiveMode;

  constructor(opts: LiveFeedOptions, deps: LiveFeedDeps) {
    this.#channel = deps.channel;
    this.#logger = deps.logger;
    this.#changed = deps.changed ?? (() => {});
    this.#ledgerPollMs = opts.ledgerPollMs;
    this.#coalescer = new ChangeCoalescer(opts.coalesceMs, (changes) => {
      this.#channel?.publish(changes);
      this.#emit({ via: 'local', changes });
    });
    this.#watch = deps.fingerprint ? new LedgerWatch(opts.ledgerPollMs, deps.fingerprint, () => this.#emit({ via: 'ledger', changes: {} }), deps.logger) : null;
    this.#channel?.onChanges((changes) => this.#emit({ via: 'cluster', changes }));
    this.#channel?.onState(() => this.#updateMode());
    this.#mode = this.#currentMode();
  }

  /** Handed to the dispatcher, intake, reconcile and dashboard actions. */
  get activity(): ActivitySink {
    return this.#coalescer;
  }

  get mode(): LiveMode {
    return this.#mode;
  }

  get ledgerPollMs(): number {
    return this.#ledgerPollMs;
  }

  start(): void {
    this.#channel?.start();
  }

  /**
   * Something this process shows but the ledger does not hold changed (an upstream paused or
   * resumed): its own dashboards read the page again. Other processes have their own status.
   */
  statusChanged(): void {
    this.#emit({ via: 'local', changes: {} });
  }

  subscribe(listener: LiveListener): () => void {
    this.#listeners.add(listener);
    this.#updateWatch();
    return () => {
      this.#listeners.delete(listener);
      this.#updateWatch();
    };
  }

  stats(): Record<string, unknown> {
    return {
      mode: this.#mode,
      listeners: this.#listeners.size,
      flushes: this.#coalescer.flushes,
      ...(this.#channel ? { published: this.#channel.published, received: this.#channel.received, dropped: this.#channel.dropped } : {}),
      ...(this.#watch ? { ledgerPolls: this.#watch.polls } : {}),
    };
  }

  /** Sends what is still coalescing (other dashboards see this process's last work), then stops listening. */
  async stop(): Promise<void> {
    this.#coalescer.close();
    this.#listeners.clear();
    this.#watch?.stop();
    await this.#channel?.stop();
  }

  #currentMode(): LiveMode {
    if (!this.#watch) return 'local';
    return this.#channel?.listening ? 'cluster' : 'ledger';
  }

  #updateMode(): void {
    const mode = this.#currentMode();
    if (mode === this.#mode) return;
    this.#mode = mode;
    this.#logger.debug({ mode }, 'live updates: mode changed');
    for (const l of this.#listeners) this.#safely(() => l.mode(mode));
    // Changes published while nobody listened are lost: whoever shows the ledger reads it again.
    this.#emit({ via: mode === 'cluster' ? 'cluster' : 'ledger', changes: {} });
    this.#updateWatch();
  }

  #updateWatch(): void {
    if (!this.#watch) return;
    if (this.#mode === 'ledger' && this.#listeners.size > 0) this.#watch.start();
    else this.#watch.stop();
  }

  #emit(c: LiveChange): void {
    this.#safely(this.#changed);
    for (const l of this.#listeners) this.#safely(() => l.change(c));
  }

  /** A listener that throws (a closed socket) must not stop the others, nor the caller's work. */
  #safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#logger.warn({ err: coerceError(error) }, 'live updates: a listener failed');
    }
  }
}
