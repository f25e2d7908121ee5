import { coerceError } from '../errors.js';
import type { Logger } from '../lib/logger.js';

/**
 * The slow path of live updates: with a ledger shared by several processes and no Redis channel
 * (unset, or away), a fingerprint of what the dashboard shows (counts by state, instance states,
 * the last reconcile run) is read every `pollMs`, and a change is reported when it differs from the
 * last reading. Runs only while someone watches, so an idle service does not read the ledger.
 */
export class LedgerWatch {
  readonly #pollMs: number;
  readonly #fingerprint: () => Promise<string>;
  readonly #onChange: () => void;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | null = null;
  #last: string | null = null;
  #running = false;
  /** Bumped by every start: a read still in flight from before a stop never re-arms the old loop. */
  #generation = 0;
  polls = 0;

  constructor(pollMs: number, fingerprint: () => Promise<string>, onChange: () => void, logger: Logger) {
    this.#pollMs = pollMs;
    this.#fingerprint = fingerprint;
    this.#onChange = onChange;
    this.#logger = logger;
  }

  get running(): boolean {
    return this.#running;
  }

  get pollMs(): number {
    return this.#pollMs;
  }

  /**
   * The first reading is reported as a change too: the watcher's page was rendered before it, and
   * whatever another process did in between would otherwise become the baseline, never shown.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#last = null;
    void this.#tick(++this.#generation);
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #tick(generation: number): Promise<void> {
    this.#timer = null;
    try {
      const now = await this.#fingerprint();
      if (generation !== this.#generation) return;
      this.polls += 1;
      if (this.#running && now !== this.#last) this.#onChange();
      this.#last = now;
    } catch (error) {
      // The ledger being away shows in /readyz; the dashboard simply learns nothing new meanwhile.
      this.#logger.debug({ err: coerceError(error) }, 'live updates: reading the ledger failed');
    }
    // Re-armed after the read, never beside it: a slow ledger is not asked twice at once.
    if (!this.#running || generation !== this.#generation) return;
    this.#timer = setTimeout(() => void this.#tick(generation), this.#pollMs);
    this.#timer.unref();
  }
}
