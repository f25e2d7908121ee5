import { backoffMs, nextMinuteBoundaryMs } from '../lib/backoff.js';
import type { Failure } from '../chatwoot/classify.js';

/**
 * Pauses all delivery to one upstream when the fault is not any single message's: the upstream is
 * unreachable, rejects the token, rate-limits, or fails every request in a row. Paused messages
 * wait without using up attempts, so an outage of any length never turns messages dead.
 */
/** Longest pause between probes of a failing upstream: it is back within this long of recovering. */
const MAX_PAUSE_MS = 10_000;

export interface GateState {
  pausedUntil: number;
  reason: string | null;
  consecutiveFailures: number;
}

export interface GateOptions {
  /** Consecutive retryable failures (across all chats) that open the breaker. */
  breakerThreshold: number;
  /** First pause; pauses double up to 10 s while the fault lasts. */
  baseMs: number;
}

export type GateVerdict = 'paused' | 'counted';

export class UpstreamGate {
  readonly name: string;
  readonly #opts: GateOptions;
  #state: GateState = { pausedUntil: 0, reason: null, consecutiveFailures: 0 };
  #pauses = 0;
  /** Breaker tripped and no success since: failures are the upstream's. */
  #tripped = false;
  /** Called when the gate opens or closes, for logs and alerts. */
  onChange: ((paused: boolean, reason: string | null, until: number) => void) | null = null;

  constructor(name: string, opts: GateOptions) {
    this.name = name;
    this.#opts = opts;
  }

  get state(): Readonly<GateState> {
    return this.#state;
  }

  isOpen(now: number): boolean {
    return now >= this.#state.pausedUntil;
  }

  pausedUntil(): number {
    return this.#state.pausedUntil;
  }

  recordSuccess(): void {
    const wasPaused = this.#state.reason !== null;
    this.#state = { pausedUntil: 0, reason: null, consecutiveFailures: 0 };
    this.#pauses = 0;
    this.#tripped = false;
    if (wasPaused) this.onChange?.(false, null, 0);
  }

  /**
   * Records a failure and says whether it paused the upstream (the message should wait without an
   * attempt being counted) or counts against the message itself.
   */
  recordFailure(failure: Failure, now: number): GateVerdict {
    switch (failure.kind) {
      case 'unreachable':
        this.#tripped = true;
        return this.#pause(now + backoffMs(++this.#pauses, Math.max(500, this.#opts.baseMs), MAX_PAUSE_MS), failure.message);
      case 'unauthorized':
        return this.#pause(now + 30_000, failure.message);
      case 'rate_limited':
        return this.#pause(nextMinuteBoundaryMs(now), failure.message);
      case 'server':
      case 'ambiguous':
        // Once the breaker has tripped, every failure until the next success is the upstream's,
        // not the message's: Chatwoot failing every request (down behind a proxy, resetting
        // connections) must pause delivery exactly like connection refused does.
        if (this.#tripped) {
          return this.#pause(now + backoffMs(++this.#pauses, Math.max(1000, this.#opts.baseMs), MAX_PAUSE_MS), `breaker open: ${failure.message}`);
        }
        this.#state.consecutiveFailures += 1;
        if (this.#state.consecutiveFailures >= this.#opts.breakerThreshold) {
          this.#state.consecutiveFailures = 0;
          this.#tripped = true;
          return this.#pause(now + backoffMs(++this.#pauses, Math.max(1000, this.#opts.baseMs), MAX_PAUSE_MS), `breaker open: ${failure.message}`);
        }
        return 'counted';
      default:
        return 'counted';
    }
  }

  #pause(until: number, reason: string): GateVerdict {
    const extended = until > this.#state.pausedUntil;
    if (extended) this.#state.pausedUntil = until;
    const wasPaused = this.#state.reason !== null;
    this.#state.reason = reason;
    if (!wasPaused || extended) this.onChange?.(true, reason, this.#state.pausedUntil);
    return 'paused';
  }
}
