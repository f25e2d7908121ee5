import type { Completion } from './ledger.js';

/** What the lane rules need of a message row, whichever way it was read. */
export interface LaneRow {
  id: number;
  state: string;
  direction: string;
  nextAttemptAt: number;
}

/** Lane heads read per lane move: the head, the one after it, and one spare for a pipelined send. */
export const LANE_LOOKAHEAD = 3;

/**
 * Whether `candidate` may be sent while the outcome of the message before it is still being
 * committed (see the dispatcher's pipelining). Only WhatsApp → Chatwoot items: a lost outcome there
 * is settled by a look-up of the deterministic `source_id`. An agent reply is never sent on such
 * terms: its look-up on WhatsApp matches by content, a weaker proof.
 */
export function mayFollow(current: Pick<LaneRow, 'direction'>, candidate: LaneRow | null | undefined, nowMs: number): candidate is LaneRow {
  return !!candidate && current.direction === 'to_chatwoot' && candidate.direction === 'to_chatwoot' && candidate.state === 'pending' && candidate.nextAttemptAt <= nowMs;
}

export interface LaneMove<R extends LaneRow> {
  /** The lane's due time (null: nothing to do); kept leases are due at once. */
  dueAt: number | null;
  keep: boolean;
  /** The message the lane owner sends next, or is sending already (pipelined). */
  inflightId: number | null;
  /** The message it may send right after that one, before that one's outcome is committed. */
  inflightNextId: number | null;
  /** The head the caller continues with (null when pipelined: it is sending one already). */
  next: R | null;
  /** The message after `next` (or after the pipelined one) the caller may pipeline. */
  then: R | null;
}

/**
 * What a lane becomes once an outcome is recorded, the one rule all three completion paths
 * (SQLite batches, PostgreSQL batches, one at a time) apply. `heads` are the lane's first rows in
 * lane order (up to LANE_LOOKAHEAD), read after the outcome was written.
 *
 * Without a pipelined send, the worker keeps the lane while its head is due at once and it asked
 * to; otherwise the lease goes back. A lane given back while its head is due goes behind the lanes
 * already waiting (claims take the oldest due time first): a chat with a long backlog then shares
 * the delivery slots with the others instead of holding one until it is empty.
 *
 * With a pipelined send (`c.pipelined`: the worker is already sending that message), the lane is
 * kept — the send is under way — and the message after it is named as the next one.
 *
 * Whatever the lane owner may have put on the other side without a recorded outcome is always
 * named by the lane's last committed `inflight_id` and `inflight_next_id`: a takeover flags both.
 */
export function laneAfter<R extends LaneRow>(c: Pick<Completion, 'keepLeaseUntil' | 'nowMs' | 'pipelined'>, heads: readonly R[]): LaneMove<R> {
  const pipelined = c.pipelined ?? null;
  if (pipelined !== null && c.keepLeaseUntil !== null) {
    const sending = heads.find((h) => h.id === pipelined);
    const after = heads.find((h) => h.id !== pipelined) ?? null;
    const then = sending && mayFollow(sending, after, c.nowMs) ? after : null;
    return { dueAt: c.nowMs, keep: true, inflightId: pipelined, inflightNextId: then?.id ?? null, next: null, then };
  }
  const head = heads[0] ?? null;
  const due = head && head.state === 'pending' ? head.nextAttemptAt : null;
  const keep = c.keepLeaseUntil !== null && due !== null && due <= c.nowMs;
  if (!keep || !head) return { dueAt: due !== null ? Math.max(due, c.nowMs) : due, keep: false, inflightId: null, inflightNextId: null, next: null, then: null };
  const second = heads[1] ?? null;
  const then = mayFollow(head, second, c.nowMs) ? second : null;
  return { dueAt: due, keep: true, inflightId: head.id, inflightNextId: then?.id ?? null, next: head, then };
}

/**
 * A lane's start by its new owner: the same marking as a completion that keeps the lane — the head
 * (when due) and the message it may pipeline after it are named in flight.
 */
export function laneStart<R extends LaneRow>(nowMs: number, heads: readonly R[]): LaneMove<R> {
  return laneAfter({ keepLeaseUntil: nowMs, nowMs }, heads);
}
