import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely, Selectable } from 'kysely';
import { laneAfter } from './lane-after.js';
import type { Completion, CompletionResult, InsertResult, NewMessage } from './ledger.js';
import { fromRow, toRow } from './rows.js';
import type { Database, MessagesTable } from './schema.js';
import type { Statements } from './statements.js';

/** Outcome writes only this path needs (SQLite syntax: scalar `max`). */
const SQLITE_ONLY = {
  headHold: "select * from messages where instance = ? and chat = ? and state in ('pending', 'dead') order by maybe_sent desc, wa_ts, id limit 1",
  markSkipped: "update messages set state = 'skipped', last_error = ?, updated_at = ? where id = ? and state = 'pending'",
  markDead: "update messages set state = 'dead', last_error = ?, updated_at = ?, attempts = attempts + 1 where id = ? and state = 'pending'",
  // An attempt that may have reached the other side keeps its start as the send time.
  markRetry: "update messages set last_error = ?, next_attempt_at = ?, updated_at = ?, attempts = attempts + ?, maybe_sent = max(maybe_sent, ?), sent_at = case when ? = 1 then coalesce(sent_at, ?) else sent_at end where id = ? and state = 'pending'",
} as const;

type Prepared = Record<'insertMessage' | 'upsertLane' | 'laneOwner' | 'markDelivered' | 'headPending' | 'updateLane' | keyof typeof SQLITE_ONLY, BetterSqlite3.Statement>;

/** A message as the insert statement takes it (built where the batch is made, see toRow). */
export type MessageRow = ReturnType<typeof toRow>;

/** A completion's result with the next head as its raw row: rows cross a thread boundary cheaply. */
export interface RawCompletionResult {
  next: Selectable<MessagesTable> | null;
  leaseHeld: boolean;
}

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
      markDelivered: prep(s.text('markDelivered')), headPending: prep(s.text('headPending')), updateLane: prep(s.text('updateLane')),
      headHold: prep(SQLITE_ONLY.headHold), markSkipped: prep(SQLITE_ONLY.markSkipped), markDead: prep(SQLITE_ONLY.markDead), markRetry: prep(SQLITE_ONLY.markRetry),
    };
    return this.#prepared;
  }

  insert(rows: readonly MessageRow[], dueAtMs: number): InsertResult[] {
    return this.#raw.transaction(() => {
      const p = this.#p();
      const dueChats = new Map<string, { instance: string; chat: string }>();
      const out = rows.map((r): InsertResult => {
        const { changes } = p.insertMessage.run(r.instance, r.wa_id, r.chat, r.direction, r.from_me, r.wa_ts, r.source, r.event, r.payload, r.next_attempt_at, r.received_at, r.updated_at);
        if (changes === 0) return 'duplicate';
        dueChats.set(`${r.instance}\u0000${r.chat}`, { instance: r.instance, chat: r.chat });
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
    const lane = p.laneOwner.get(c.instance, c.chat) as { lease_owner: string | null } | undefined;
    this.#recordOutcome(c);
    if (lane?.lease_owner !== c.owner) return { next: null, leaseHeld: false };
    const row = (c.deadPolicy === 'hold' ? p.headHold : p.headPending).get(c.instance, c.chat) as Selectable<MessagesTable> | undefined;
    const { dueAt, keep } = laneAfter(c, row ? { state: row.state, nextAttemptAt: Number(row.next_attempt_at) } : null);
    p.updateLane.run(dueAt, keep ? c.owner : null, keep ? c.keepLeaseUntil : null, keep && row ? row.id : null, c.instance, c.chat);
    return { next: keep && row ? row : null, leaseHeld: true };
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

/** The hot write paths as the ledger calls them, wherever the transaction runs. */
export interface SqliteBatches {
  insert(rows: NewMessage[], nowMs: number, dueAtMs: number): Promise<InsertResult[]>;
  complete(items: Completion[]): Promise<CompletionResult[]>;
  close(): Promise<void>;
}

export function toMessageRows(rows: readonly NewMessage[], nowMs: number, dueAtMs: number): MessageRow[] {
  return rows.map((r) => toRow(r, nowMs, dueAtMs));
}

export function toCompletionResults(raw: readonly RawCompletionResult[]): CompletionResult[] {
  return raw.map((r) => ({ next: r.next ? fromRow(r.next) : null, leaseHeld: r.leaseHeld }));
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
    const built = toMessageRows(rows, nowMs, dueAtMs);
    return this.#db.connection().execute(async () => this.#core.insert(built, dueAtMs));
  }

  complete(items: Completion[]): Promise<CompletionResult[]> {
    return this.#db.connection().execute(async () => toCompletionResults(this.#core.complete(items)));
  }

  async close(): Promise<void> {}
}
