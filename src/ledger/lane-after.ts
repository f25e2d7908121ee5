import type { Completion } from './ledger.js';

/** What the lane rules need of a message row, whichever way it was read. */
export interface LaneRow {
  id: number;
  state: string;
  direction: string;
  nextAttemptAt: number;
  /** Possibly in Chatwoot already: looked up before it is sent, and never sent inside a window. */
  maybeSent: boolean;
}

/**
 * Messages of one lane named in flight at once: the head and those that may follow it before its
 * outcome commits. A lane reads and names them in one commit, sends them one after the other as
 * each is answered while their outcomes commit behind, and waits for a commit once per window
 * instead of once per message: with one, every message waited for the disk flush of the one
 * before the one before, and a chat's pace was the commit's, not Chatwoot's.
 */
export const LANE_WINDOW = 8;

/** Lane heads read per lane move: a whole window. */
export const LANE_LOOKAHEAD = LANE_WINDOW;

/**
 * Whether `candidate` may be sent while the outcome of the message before it is still being
 * committed (see the dispatcher's pipelining). Only WhatsApp → Chatwoot items: a lost outcome there
 * is settled by a look-up of the deterministic `source_id`. An agent reply is never sent on such
 * terms: its look-up on WhatsApp matches by content, a weaker proof. A message possibly in
 * Chatwoot already is looked up alone, its outcome committed before anything follows it: the
 * look-ups after a crash start after the chat's last recorded Chatwoot id, which holds only while
 * a chat's messages are recorded in the order they were sent.
 */
export function mayFollow(current: Pick<LaneRow, 'direction' | 'maybeSent'>, candidate: LaneRow | null | undefined, nowMs: number): candidate is LaneRow {
  return (
    !!candidate && current.direction === 'to_chatwoot' && candidate.direction === 'to_chatwoot' && candidate.state === 'pending' && candidate.nextAttemptAt <= nowMs &&
    !current.maybeSent && !candidate.maybeSent
  );
}

/** A window's ids as the lanes table keeps them (`inflight_ids`). */
export function windowIds(ids: readonly number[]): string | null {
  return ids.length > 0 ? ids.join(',') : null;
}

/** The ids of a window as `windowIds` wrote them; anything else in the column is ignored. */
export function parseWindowIds(text: string | null): number[] {
  if (!text) return [];
  return text.split(',').map(Number).filter((n) => Number.isSafeInteger(n) && n > 0);
}

export interface LaneMove<R extends LaneRow> {
  /** The lane's due time (null: nothing to do); kept leases are due at once. */
  dueAt: number | null;
  keep: boolean;
  /**
   * A pipelined outcome: the lane row stays exactly as it is (its window, named by an earlier
   * commit, still covers what the owner is sending), so nothing but the outcome is written.
   */
  unchanged: boolean;
  /** The message the lane owner sends next: the first of its window. */
  inflightId: number | null;
  /** The last message of the window (null when the window is the head alone). */
  inflightNextId: number | null;
  /** Every message of the window, in lane order (empty when nothing is in flight). */
  inflightIds: number[];
  /** The head the caller continues with (null when pipelined: it is sending its window already). */
  next: R | null;
  /** The rest of the window after `next`, in lane order: sent before `next`'s outcome commits. */
  ahead: R[];
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
 * A kept lane names a window: the head and up to LANE_WINDOW - 1 messages after it, each one that
 * may follow the one before it without waiting for a commit (see mayFollow).
 *
 * With a pipelined send (`c.pipelined`: the worker is already sending the next message of its
 * window), the lane is kept and left as it is — the send is under way — and nothing is read.
 *
 * Whatever the lane owner may have put on the other side without a recorded outcome is always
 * named by the lane's last committed `inflight_id` (the window's head) and `inflight_next_id` (its
 * last message): a takeover flags the head and every pending message of the lane up to the last in
 * lane order, which is the whole window (and, harmlessly, a late arrival sorting inside it).
 */
export function laneAfter<R extends LaneRow>(c: Pick<Completion, 'keepLeaseUntil' | 'nowMs' | 'pipelined'>, heads: readonly R[]): LaneMove<R> {
  if (isPipelined(c)) return { dueAt: c.nowMs, keep: true, unchanged: true, inflightId: null, inflightNextId: null, inflightIds: [], next: null, ahead: [] };
  const head = heads[0] ?? null;
  const due = head && head.state === 'pending' ? head.nextAttemptAt : null;
  const keep = c.keepLeaseUntil !== null && due !== null && due <= c.nowMs;
  if (!keep || !head) return { dueAt: due !== null ? Math.max(due, c.nowMs) : due, keep: false, unchanged: false, inflightId: null, inflightNextId: null, inflightIds: [], next: null, ahead: [] };
  const ahead: R[] = [];
  let last = head;
  for (const h of heads.slice(1, LANE_WINDOW)) {
    if (!mayFollow(last, h, c.nowMs)) break;
    ahead.push(h);
    last = h;
  }
  return { dueAt: due, keep: true, unchanged: false, inflightId: head.id, inflightNextId: ahead.length > 0 ? last.id : null, inflightIds: [head.id, ...ahead.map((h) => h.id)], next: head, ahead };
}

/** An outcome recorded while the owner already sends the next message of its window: the lane stays as it is. */
export function isPipelined(c: Pick<Completion, 'keepLeaseUntil' | 'pipelined'>): boolean {
  return c.pipelined != null && c.keepLeaseUntil !== null;
}

/**
 * A lane's start by its new owner: the same marking as a completion that keeps the lane — the head
 * (when due) and the message it may pipeline after it are named in flight.
 */
export function laneStart<R extends LaneRow>(nowMs: number, heads: readonly R[]): LaneMove<R> {
  return laneAfter({ keepLeaseUntil: nowMs, nowMs }, heads);
}
