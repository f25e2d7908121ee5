import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely, Selectable } from 'kysely';
import { laneAfter, laneStart } from './lane-after.js';
import type { Direction, IngestSource } from '../domain/message.js';
import type { ClaimedLane, Completion, CompletionOutcome, CompletionResult, InsertResult, LaneStart, NewMessage } from './ledger.js';
import { fromValues, type RowValues } from './rows.js';
import type { Database, MessagesTable } from './schema.js';
import type { Statements } from './statements.js';

/** Outcome writes only this path needs (SQLite syntax: scalar `max`). */
const SQLITE_ONLY = {
  claim: `update lanes set lease_owner = ?, lease_until = ?
          where rowid in (select rowid from lanes where due_at <= ? and lease_owner is null order by due_at limit ?)
          returning instance, chat, suspect`,
  settle: 'update lanes set due_at = ?, lease_owner = null, lease_until = null, inflight_id = null, inflight_next_id = null where instance = ? and chat = ? and lease_owner = ?',
  markSkipped: "update messages set state = 'skipped', last_error = ?, updated_at = ? where id = ? and state = 'pending'",
  markDead: "update messages set state = 'dead', last_error = ?, updated_at = ?, attempts = attempts + 1 where id = ? and state = 'pending'",
  // An attempt that may have reached the other side keeps its start as the send time.
  markRetry: "update messages set last_error = ?, next_attempt_at = ?, updated_at = ?, attempts = attempts + ?, maybe_sent = max(maybe_sent, ?), sent_at = case when ? = 1 then coalesce(sent_at, ?) else sent_at end where id = ? and state = 'pending'",
} as const;

type Prepared = Record<'insertMessage' | 'upsertLane' | 'laneOwner' | 'markDelivered' | 'headsPending' | 'headsHold' | 'messageById' | 'keepLane' | 'releaseLane' | 'markInflight' | keyof typeof SQLITE_ONLY, BetterSqlite3.Statement>;

/**
 * A new message as the insert statement takes it, as values (see RawCompletionResult): an ingest
 * batch crosses to the writer thread as thousands of these. Its times are the batch's own.
 */
export type MessageRow = [instance: string, waId: string, chat: string, direction: Direction, fromMe: 0 | 1, waTs: number, source: IngestSource, event: string, payload: string];

type Row = Selectable<MessagesTable>;

/**
 * A completion's result as the writer answers it: [next, then, leaseHeld, leaseUntil], rows as
 * values. Arrays, not objects: structured clone copies every key of every object, and these
 * cross the thread boundary once per delivered message.
 */
export type RawCompletionResult = [next: RowValues | null, then: RowValues | null, leaseHeld: boolean, leaseUntil: number | null];

/** A lane start as the writer answers it: [head, then, leaseUntil]. */
export type RawLaneStart = [head: RowValues | null, then: RowValues | null, leaseUntil: number | null];

/**
 * A completion as it is posted to the writer thread (same reason as RawCompletionResult):
 * [messageId, instance, chat, owner, keepLeaseUntil, nowMs, deadPolicy, attemptStartedAt,
 * pipelined, state, …the outcome's own fields].
 */
export type PackedCompletion = [number, string, string, string, number | null, number, 'skip' | 'hold', number | null, number | null, CompletionOutcome['state'], unknown, unknown, unknown, unknown];

export function packCompletion(c: Completion): PackedCompletion {
  const o = c.outcome;
  const head = [c.messageId, c.instance, c.chat, c.owner, c.keepLeaseUntil, c.nowMs, c.deadPolicy, c.attemptStartedAt ?? null, c.pipelined ?? null] as const;
  switch (o.state) {
    case 'delivered': return [...head, o.state, o.cwMessageId, o.cwConversationId, null, null];
    case 'skipped': return [...head, o.state, o.reason, null, null, null];
    case 'dead': return [...head, o.state, o.error, null, null, null];
    case 'retry': return [...head, o.state, o.error, o.nextAttemptAt, o.countAttempt, o.maybeSent];
  }
}

export function unpackCompletion(p: PackedCompletion): Completion {
  const [messageId, instance, chat, owner, keepLeaseUntil, nowMs, deadPolicy, attemptStartedAt, pipelined, state, a, b, c, d] = p;
  const outcome: CompletionOutcome =
    state === 'delivered' ? { state, cwMessageId: a as number | null, cwConversationId: b as number | null }
    : state === 'skipped' ? { state, reason: a as string }
    : state === 'dead' ? { state, error: a as string }
    : { state, error: a as string, nextAttemptAt: b as number, countAttempt: c as boolean, maybeSent: d as boolean };
  return { messageId, instance, chat, owner, outcome, keepLeaseUntil, nowMs, deadPolicy, ...(attemptStartedAt !== null ? { attemptStartedAt } : {}), ...(pipelined !== null ? { pipelined } : {}) };
}

type LaneOwnerRow = { lease_owner: string | null; lease_until: number | null } | undefined;

/** What the lane rules (lane-after.ts) read of a lane's first rows; whole rows only for those returned. */
type HeadRow = Pick<Row, 'id' | 'state' | 'direction' | 'next_attempt_at'>;
const asLaneRow = (r: HeadRow) => ({ id: Number(r.id), state: r.state, direction: r.direction, nextAttemptAt: Number(r.next_attempt_at) });

/**
 * The two hot write paths of a SQLite ledger — ingest batches and delivery completions — as one
 * synchronous better-sqlite3 transaction each. Going through the async query layer cost a promise
 * round per statement, four to six statements per message: more CPU than SQLite itself. Same
 * statements, same semantics as the generic path. Runs on whichever thread owns the connection
 * (see sqlite-writer.ts).
 */
export class SqliteBatchCore {
  readonly #raw: BetterSqlite3.Database;
  readonly #stmts: Statements;
  #prepared: Prepared | null = null;

  constructor(raw: BetterSqlite3.Database, stmts: Statements) {
    this.#raw = raw;
    this.#stmts = stmts;
  }

  /** Prepared on first use: the tables exist only once migrations ran. */
  #p(): Prepared {
    if (this.#prepared) return this.#prepared;
    const s = this.#stmts;
    const prep = (text: string) => this.#raw.prepare(text);
    this.#prepared = {
      insertMessage: prep(s.text('insertMessage')), upsertLane: prep(s.text('upsertLane')), laneOwner: prep(s.text('laneOwner')),
      markDelivered: prep(s.text('markDelivered')), headsPending: prep(s.text('headsPending')), headsHold: prep(s.text('headsHold')), messageById: prep(s.text('messageById')).raw(true),
      keepLane: prep(s.text('keepLane')), releaseLane: prep(s.text('releaseLane')), markInflight: prep(s.text('markInflight')),
      claim: prep(SQLITE_ONLY.claim), settle: prep(SQLITE_ONLY.settle),
      markSkipped: prep(SQLITE_ONLY.markSkipped), markDead: prep(SQLITE_ONLY.markDead), markRetry: prep(SQLITE_ONLY.markRetry),
    };
    return this.#prepared;
  }

  insert(rows: readonly MessageRow[], nowMs: number, dueAtMs: number): InsertResult[] {
    return this.#raw.transaction(() => {
      const p = this.#p();
      const dueChats = new Map<string, { instance: string; chat: string }>();
      const out = rows.map((r): InsertResult => {
        const [instance, waId, chat, direction, fromMe, waTs, source, event, payload] = r;
        const { changes } = p.insertMessage.run(instance, waId, chat, direction, fromMe, waTs, source, event, payload, dueAtMs, nowMs, nowMs);
        if (changes === 0) return 'duplicate';
        dueChats.set(`${instance}\u0000${chat}`, { instance, chat });
        return 'inserted';
      });
      // A lane already waiting (its head in backoff) keeps its time: the head goes first.
      for (const l of dueChats.values()) p.upsertLane.run(l.instance, l.chat, dueAtMs);
      return out;
    }).immediate();
  }

  complete(items: readonly Completion[]): RawCompletionResult[] {
    return this.#raw.transaction(() => items.map((c) => this.#completeOne(c))).immediate();
  }

  #completeOne(c: Completion): RawCompletionResult {
    const p = this.#p();
    const lane = p.laneOwner.get(c.instance, c.chat) as LaneOwnerRow;
    this.#recordOutcome(c);
    if (lane?.lease_owner !== c.owner) return [null, null, false, null];
    const move = laneAfter(c, this.#heads(c.instance, c.chat, c.deadPolicy));
    if (move.keep) p.keepLane.run(move.inflightId, move.inflightNextId, c.instance, c.chat);
    else p.releaseLane.run(move.dueAt, c.instance, c.chat);
    return [this.#row(move.next), this.#row(move.then), true, lane.lease_until == null ? null : Number(lane.lease_until)];
  }

  #heads(instance: string, chat: string, deadPolicy: 'skip' | 'hold') {
    const p = this.#p();
    const rows = deadPolicy === 'hold' ? p.headsHold.all(instance, chat, instance, chat) : p.headsPending.all(instance, chat);
    return (rows as HeadRow[]).map(asLaneRow);
  }

  #row(head: { id: number } | null): RowValues | null {
    return head ? ((this.#p().messageById.get(head.id) as RowValues | undefined) ?? null) : null;
  }

  /** Leases up to `limit` due, unleased lanes (the oldest due first). */
  claim(owner: string, limit: number, nowMs: number, leaseMs: number): { instance: string; chat: string; suspect: boolean }[] {
    const rows = this.#p().claim.all(owner, nowMs + leaseMs, nowMs, limit) as { instance: string; chat: string; suspect: number }[];
    return rows.map((r) => ({ instance: r.instance, chat: r.chat, suspect: Number(r.suspect) === 1 }));
  }

  /** The new owner's start: heads read and, when due, marked in flight, in one transaction. */
  startLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold', nowMs: number): RawLaneStart {
    return this.#raw.transaction((): RawLaneStart => {
      const p = this.#p();
      const lane = p.laneOwner.get(instance, chat) as LaneOwnerRow;
      const start = laneStart(nowMs, this.#heads(instance, chat, deadPolicy));
      if (lane?.lease_owner !== owner) return [null, null, null];
      const leaseUntil = lane.lease_until == null ? null : Number(lane.lease_until);
      if (start.inflightId === null) return [null, null, leaseUntil];
      p.markInflight.run(start.inflightId, start.inflightNextId, instance, chat, owner);
      return [this.#row(start.next), this.#row(start.then), leaseUntil];
    }).immediate();
  }

  /** Gives the lane back with its due time recomputed from its head (nothing left in flight). */
  settle(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold'): void {
    this.#raw.transaction(() => {
      const head = this.#heads(instance, chat, deadPolicy)[0];
      this.#p().settle.run(head && head.state === 'pending' ? head.nextAttemptAt : null, instance, chat, owner);
    }).immediate();
  }

  /** Only while still pending: a late duplicate outcome changes nothing. */
  #recordOutcome(c: Completion): void {
    const p = this.#p();
    const o = c.outcome;
    if (o.state === 'delivered') p.markDelivered.run(o.cwMessageId, o.cwConversationId, c.nowMs, c.attemptStartedAt ?? c.nowMs, c.nowMs, c.messageId);
    else if (o.state === 'skipped') p.markSkipped.run(o.reason, c.nowMs, c.messageId);
    else if (o.state === 'dead') p.markDead.run(o.error, c.nowMs, c.messageId);
    else p.markRetry.run(o.error, o.nextAttemptAt, c.nowMs, o.countAttempt ? 1 : 0, o.maybeSent ? 1 : 0, o.maybeSent ? 1 : 0, c.attemptStartedAt ?? c.nowMs, c.messageId);
  }
}

/**
 * The hot write paths as the ledger calls them, wherever the transaction runs: every write on a
 * lane's way (claim, start, completion, settle) as well as ingest, so that on the service's
 * connection none of them waits for the disk on the event loop.
 */
export interface SqliteBatches {
  insert(rows: NewMessage[], nowMs: number, dueAtMs: number): Promise<InsertResult[]>;
  complete(items: Completion[]): Promise<CompletionResult[]>;
  claim(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<ClaimedLane[]>;
  startLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold', nowMs: number): Promise<LaneStart>;
  settle(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold'): Promise<void>;
  close(): Promise<void>;
}

export function toMessageRows(rows: readonly NewMessage[]): MessageRow[] {
  return rows.map(({ message: m, direction, source }) => [m.instance, m.waId, m.chat, direction, m.fromMe ? 1 : 0, m.timestamp, source, m.event, JSON.stringify(m)]);
}

export function toCompletionResults(raw: readonly RawCompletionResult[]): CompletionResult[] {
  return raw.map(([next, then, leaseHeld, leaseUntil]) => ({ next: next ? fromValues(next) : null, then: then ? fromValues(then) : null, leaseHeld, leaseUntil }));
}

export function toLaneStart([head, then, leaseUntil]: RawLaneStart): LaneStart {
  return { head: head ? fromValues(head) : null, then: then ? fromValues(then) : null, leaseUntil };
}

/**
 * The batches on the thread that runs everything else, holding Kysely's connection meanwhile so
 * nothing can interleave: for in-memory ledgers and read-mostly tools, and the fallback when the
 * writer thread cannot run.
 */
export class InlineBatches implements SqliteBatches {
  readonly #core: SqliteBatchCore;
  readonly #db: Kysely<Database>;

  constructor(raw: BetterSqlite3.Database, db: Kysely<Database>, stmts: Statements) {
    this.#core = new SqliteBatchCore(raw, stmts);
    this.#db = db;
  }

  insert(rows: NewMessage[], nowMs: number, dueAtMs: number): Promise<InsertResult[]> {
    const built = toMessageRows(rows);
    return this.#db.connection().execute(async () => this.#core.insert(built, nowMs, dueAtMs));
  }

  complete(items: Completion[]): Promise<CompletionResult[]> {
    return this.#db.connection().execute(async () => toCompletionResults(this.#core.complete(items)));
  }

  claim(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<ClaimedLane[]> {
    return this.#db.connection().execute(async () => this.#core.claim(owner, limit, nowMs, leaseMs));
  }

  startLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold', nowMs: number): Promise<LaneStart> {
    return this.#db.connection().execute(async () => toLaneStart(this.#core.startLane(instance, chat, owner, deadPolicy, nowMs)));
  }

  settle(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold'): Promise<void> {
    return this.#db.connection().execute(async () => this.#core.settle(instance, chat, owner, deadPolicy));
  }

  async close(): Promise<void> {}
}
