/**
 * What the live dashboard is told: which instance saw which kind of change, and how many times.
 * Never message content, chat or contact ids: a change only makes the dashboard read the ledger
 * again, so an event crossing Redis carries nothing worth stealing and nothing it could inject.
 */
export const CHANGE_KINDS = ['received', 'delivered', 'skipped', 'dead', 'retried', 'discarded', 'reconcile', 'connection'] as const;

export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Per instance, per kind: how many since the last event (kinds with none are left out). */
export type ChangeSet = Record<string, Partial<Record<ChangeKind, number>>>;

/** Where a change was learnt: this process, another one through Redis, or the ledger poll. */
export type ChangeVia = 'local' | 'cluster' | 'ledger';

export interface LiveChange {
  via: ChangeVia;
  /** Empty after a poll (the ledger tells that something changed, not what) or a resync. */
  changes: ChangeSet;
}

/**
 * How this process learns of the cluster's changes right now:
 * - `local`: nobody else writes this ledger (SQLite), so every change is seen at once;
 * - `cluster`: other processes' changes arrive through Redis within the coalescing window;
 * - `ledger`: a shared ledger without Redis (unset or away): others' work shows up at the next poll.
 */
export type LiveMode = 'local' | 'cluster' | 'ledger';

/**
 * The one call the busy parts (dispatcher, intake, reconcile, dashboard actions) make: a counter
 * increment, never awaited, never an I/O. What is sent, and when, is decided elsewhere.
 */
export interface ActivitySink {
  note(instance: string, kind: ChangeKind, n?: number): void;
}

export const noActivity: ActivitySink = { note() {} };

/** Adds `from` into `into` (both keyed by instance, then kind). */
export function mergeChanges(into: ChangeSet, from: ChangeSet): void {
  for (const [instance, kinds] of Object.entries(from)) {
    const target = (into[instance] ??= {});
    for (const kind of CHANGE_KINDS) {
      const n = kinds[kind];
      if (n) target[kind] = (target[kind] ?? 0) + n;
    }
  }
}

const KIND_SET = new Set<string>(CHANGE_KINDS);
/** Bounds of a change set read from Redis: anything larger is not one of ours. */
const MAX_INSTANCES = 1000;
const MAX_INSTANCE_NAME = 200;

/**
 * A change set read from another process (through Redis, which any client of it may write to), or
 * null when it is not one: only known kinds, bounded instance names and non-negative integers
 * pass. The dashboard never renders these names; they only say what to read again.
 */
export function parseChangeSet(value: unknown): ChangeSet | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_INSTANCES) return null;
  const out: ChangeSet = {};
  for (const [instance, kinds] of entries) {
    if (instance.length === 0 || instance.length > MAX_INSTANCE_NAME) return null;
    if (!kinds || typeof kinds !== 'object' || Array.isArray(kinds)) return null;
    const counts: Partial<Record<ChangeKind, number>> = {};
    for (const [kind, n] of Object.entries(kinds as Record<string, unknown>)) {
      if (!KIND_SET.has(kind) || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return null;
      if (n > 0) counts[kind as ChangeKind] = n;
    }
    out[instance] = counts;
  }
  return out;
}
