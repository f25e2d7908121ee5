import type { AlertEvent, AlertKind, Observation } from './kinds.js';

interface KeyState {
  phase: 'pending' | 'firing';
  /** First evaluation that saw the condition. */
  since: number;
  last: Observation;
}

/**
 * One small state machine per alert key: ok → pending (condition seen, waiting `forMs`) → firing →
 * ok. Only pending → firing and firing → ok are reported, so an incident fires exactly once and
 * recovers exactly once however many evaluations it spans. Pure and clock-free: the caller passes
 * `now`, which keeps it testable without timers.
 */
export class AlertTracker {
  readonly #keys = new Map<string, KeyState>();

  /**
   * Applies one evaluation. A key that was tracked but is not observed is taken as inactive (the
   * instance or upstream it watched is gone), except when its kind is in `unknown`: that source
   * could not be read this time, and "could not look" must not read as "recovered".
   */
  observe(observations: readonly Observation[], now: number, unknown: ReadonlySet<AlertKind> = new Set()): AlertEvent[] {
    const events: AlertEvent[] = [];
    const seen = new Set<string>();
    for (const o of observations) {
      seen.add(o.key);
      const event = this.#step(o, now);
      if (event) events.push(event);
    }
    for (const [key, st] of [...this.#keys]) {
      if (seen.has(key) || unknown.has(st.last.kind)) continue;
      const event = this.#step({ ...st.last, active: false }, now);
      if (event) events.push(event);
    }
    return events;
  }

  /** Keys firing now, for /api/stats and tests. */
  firing(): { key: string; kind: AlertKind; since: number; summary: string }[] {
    return [...this.#keys].filter(([, s]) => s.phase === 'firing').map(([key, s]) => ({ key, kind: s.last.kind, since: s.since, summary: s.last.summary }));
  }

  #step(o: Observation, now: number): AlertEvent | null {
    const st = this.#keys.get(o.key);
    if (!o.active) {
      if (!st) return null;
      this.#keys.delete(o.key);
      if (st.phase !== 'firing') return null;
      return { key: o.key, kind: o.kind, status: 'recovered', summary: o.summary, details: o.details, startedAt: st.since, at: now };
    }
    if (!st) {
      const fresh: KeyState = { phase: 'pending', since: now, last: o };
      this.#keys.set(o.key, fresh);
      return this.#promote(fresh, now);
    }
    st.last = o;
    return st.phase === 'pending' ? this.#promote(st, now) : null;
  }

  #promote(st: KeyState, now: number): AlertEvent | null {
    if (now - st.since < st.last.forMs) return null;
    st.phase = 'firing';
    return { key: st.last.key, kind: st.last.kind, status: 'firing', summary: st.last.summary, details: st.last.details, startedAt: st.since, at: now };
  }
}
