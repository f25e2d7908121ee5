import { type ActivitySink, CHANGE_KINDS, type ChangeKind, type ChangeSet } from './changes.js';

type Counts = Record<ChangeKind, number>;

const zero = (): Counts => ({ received: 0, delivered: 0, skipped: 0, dead: 0, retried: 0, discarded: 0, reconcile: 0, connection: 0 });

/**
 * Gathers notes into one change set per window: the first note of a quiet period arms one timer,
 * and when it fires everything noted meanwhile goes out together. Delivery runs at thousands of
 * messages a second, so `note` is the hot path: a map look-up and an increment. Each instance's
 * counters are allocated once and reset after every flush (instances are few: the configured ones,
 * or those that send events), so a busy steady state allocates only the change set sent per window.
 */
export class ChangeCoalescer implements ActivitySink {
  readonly #windowMs: number;
  readonly #flush: (changes: ChangeSet) => void;
  readonly #counts = new Map<string, Counts>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Change sets handed on so far (one per busy window). */
  flushes = 0;

  constructor(windowMs: number, flush: (changes: ChangeSet) => void) {
    this.#windowMs = windowMs;
    this.#flush = flush;
  }

  note(instance: string, kind: ChangeKind, n = 1): void {
    if (this.#closed || n <= 0) return;
    let c = this.#counts.get(instance);
    if (!c) this.#counts.set(instance, (c = zero()));
    c[kind] += n;
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flushNow(), this.#windowMs);
      // A pending flush never keeps the process alive; stop() flushes what is left.
      this.#timer.unref();
    }
  }

  /** Hands on what was noted since the last flush (nothing when nothing was). */
  flushNow(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    let changes: ChangeSet | null = null;
    for (const [instance, c] of this.#counts) {
      for (const kind of CHANGE_KINDS) {
        if (c[kind] === 0) continue;
        changes ??= {};
        (changes[instance] ??= {})[kind] = c[kind];
        c[kind] = 0;
      }
    }
    if (changes) {
      this.flushes += 1;
      this.#flush(changes);
    }
  }

  /** Flushes the rest and ignores later notes (shutdown). */
  close(): void {
    this.flushNow();
    this.#closed = true;
  }
}
