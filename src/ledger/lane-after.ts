import type { Completion } from './ledger.js';

/**
 * What a lane becomes once an outcome is recorded, the one rule all three completion paths
 * (SQLite batches, PostgreSQL batches, one at a time) apply: the worker keeps it while its next
 * head is due at once and it asked to; otherwise the lease goes back.
 *
 * A lane given back while its head is due goes behind the lanes already waiting (claims take the
 * oldest due time first): a chat with a long backlog then shares the delivery slots with the
 * others instead of holding one until it is empty.
 */
export function laneAfter(c: Pick<Completion, 'keepLeaseUntil' | 'nowMs'>, head: { state: string; nextAttemptAt: number } | null): { dueAt: number | null; keep: boolean } {
  const due = head && head.state === 'pending' ? head.nextAttemptAt : null;
  const keep = c.keepLeaseUntil !== null && due !== null && due <= c.nowMs;
  return { dueAt: !keep && due !== null ? Math.max(due, c.nowMs) : due, keep };
}
