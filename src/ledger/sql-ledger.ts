import { type Kysely, Migrator, type Selectable, type SelectQueryBuilder, type Transaction, sql } from 'kysely';
import type { Connection, Dialect } from './connect.js';
import type { Direction } from '../domain/message.js';
import type {
  ChatLink, ClaimedLane, Completion, CompletionResult, IdentityRecord, InsertResult, KnownWaId, LaneStart, LearnResult, Ledger, LedgerCounts, LedgerMessage,
  MessageQuery, MessageState, NewMessage, ReconcileRun, RefusedInput,
} from './ledger.js';
import type { InstanceBacklog, InstanceStateRecord, MessageSearch, ThroughputBucket } from './ledger.js';
import * as operator from './operator-queries.js';
import { Identities } from './identities.js';
import { migrationProvider } from './migrations.js';
import { LANE_LOOKAHEAD, laneAfter, laneStart } from './lane-after.js';
import type { SqliteBatches } from './sqlite-batch.js';
import { WRITER_GONE } from './sqlite-writer.js';
import { Statements } from './statements.js';
import { completeBatchPg } from './pg-complete.js';
import { notifyWork, wakeLane } from './pg-notify.js';
import { fromRow } from './rows.js';
import { lockLanesPg } from './pg-lane-locks.js';
import type { Database, MessagesTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;


/** Rows per INSERT statement: far below both dialects' bound-parameter limits. */
const INSERT_CHUNK = 400;

export async function migrateLedger(conn: Connection): Promise<string[]> {
  const migrator = new Migrator({ db: conn.db, provider: migrationProvider(conn.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * The ledger on Kysely, for SQLite and PostgreSQL alike. Where the dialects must differ (lane
 * claiming: PostgreSQL takes row locks with SKIP LOCKED so several processes can share the work;
 * SQLite has a single writer), the difference is confined to one method.
 */
export class SqlLedger implements Ledger {
  readonly dialect: Dialect;
  readonly #conn: Connection;
  readonly #db: Kysely<Database>;
  readonly #stmts: Statements;
  /** SQLite's synchronous hot paths (null on PostgreSQL). */
  readonly #batches: SqliteBatches | null;
  readonly #identities: Identities;

  constructor(conn: Connection) {
    this.#conn = conn;
    this.#db = conn.db;
    this.dialect = conn.dialect;
    this.#stmts = new Statements(conn.dialect);
    this.#batches = conn.batches ?? null;
    this.#identities = new Identities(conn.dialect);
  }

  async insertMessages(rows: NewMessage[], nowMs: number, dueAtMs: number = nowMs, arrival?: () => number): Promise<InsertResult[]> {
    if (rows.length === 0) return [];
    const batches = this.#batches;
    if (batches) {
      // SQLite: one process, one ingest batch at a time, so learning identities (and choosing
      // lanes) just before the synchronous insert sees the same ledger the insert writes to.
      let ready = rows;
      if (this.#identities.needsLookup(rows)) {
        const prepared = await withRetry(() => this.#db.transaction().execute((trx) => this.#identities.prepare(trx, rows, nowMs)));
        prepared.afterCommit();
        ready = prepared.rows;
      }
      // Arrival is stamped as the rows go to the writer, which runs lane reads and inserts in the
      // order they were handed to it: a lane read stamped later sees these rows. Stamped before
      // the look-up (which waits for the writer's lock on this connection), a read made meanwhile
      // chose a newer message without them, and a message that arrived late was counted out of
      // order by `evosync check`. The ordering window runs from there too.
      const { at, dueAt } = stampArrival(nowMs, dueAtMs, arrival);
      return withRetry(() => batches.insert(ready, at, dueAt));
    }
    return withRetry(() => this.#insert(rows, nowMs, dueAtMs, arrival));
  }

  /** PostgreSQL: set-based chunks (SQLite takes the synchronous path in sqlite-batch.ts). */
  async #insert(original: NewMessage[], nowMs: number, dueAtMs: number, arrival: (() => number) | undefined): Promise<InsertResult[]> {
    let afterCommit = () => {};
    const results = await this.#db.transaction().execute(async (trx) => {
      // Identities are learned and lanes chosen in the transaction that stores the items (see
      // identities.ts): a fold and the items it concerns commit together or not at all.
      const prepared = await this.#identities.prepare(trx, original, nowMs);
      afterCommit = prepared.afterCommit;
      const rows = prepared.rows;
      const inserted = new Set<string>();
      const dueChats = new Map<string, { instance: string; chat: string }>();
      // Arrival is stamped once the batch holds its lanes: a lane read (which locks its lane
      // first) made before could not see these rows and may choose a newer message of the chat,
      // so the rows must count as having arrived after it. Stamped when the batch began, a message
      // that arrived late was counted out of order by `evosync check`.
      await lockLanesPg(trx, [...new Map(rows.map((r) => [`${r.message.instance}\u0000${r.message.chat}`, r.message])).values()]);
      // The ordering window runs from there too: the wait for the lanes (behind a delivery's
      // commit, or the batch before) is not taken from it.
      const { at: arrivedAt, dueAt } = stampArrival(nowMs, dueAtMs, arrival);
      const lockedAt = performance.now();
      // Ids in one global order: batches committing side by side that share an id (a duplicate
      // delivery) then wait on each other in the same order instead of deadlocking.
      const sorted = [...rows].sort((a, b) => compareKey(a.message, b.message));
      const insertedIds: number[] = [];
      for (const r of await insertPg(trx, sorted, arrivedAt, dueAt)) {
        insertedIds.push(Number(r.id));
        inserted.add(`${r.instance}\u0000${r.wa_id}`);
        dueChats.set(`${r.instance}\u0000${r.chat}`, { instance: r.instance, chat: r.chat });
      }
      // Sorted, so two processes upserting overlapping lanes lock them in the same order. A lane
      // already waiting (its head in backoff) keeps its time: the head goes first.
      const lanes = [...dueChats.values()].sort(compareLane);
      if (lanes.length > 0) {
        await sql`
          insert into lanes (instance, chat, due_at, suspect)
          select v.instance, v.chat, ${dueAt}::bigint, 0 from unnest(${lanes.map((l) => l.instance)}::text[], ${lanes.map((l) => l.chat)}::text[]) with ordinality as v(instance, chat, n)
          order by v.n
          on conflict (instance, chat) do update set due_at = coalesce(lanes.due_at, excluded.due_at)`.execute(trx);
        // The ordering window runs from when the rows become visible: a batch whose statements
        // were slow (a busy machine) would otherwise commit its messages after their window had
        // already passed, and a newer sibling committed meanwhile by another process could go first.
        const lateMs = Math.round(performance.now() - lockedAt);
        // Only past half the window: the extra update holds the lanes' locks longer, and done for
        // every mildly slow batch it made ingest under contention slower still (a spiral). Measured
        // from the batch's start, lock waits counted too, it ran for most batches of a RabbitMQ
        // backlog on PostgreSQL (76 ms each for 2,000 rows) while deliveries waited on those locks.
        // By primary key: matched on (instance, wa_id) against an unnest, PostgreSQL planned a
        // nested loop over the whole table, 20 s of CPU for a batch of 2,000 with the lanes'
        // locks held, and RabbitMQ ingest stalled behind it.
        if (dueAtMs > nowMs && lateMs > (dueAtMs - nowMs) / 2 && insertedIds.length > 0) {
          await sql`
            update messages set next_attempt_at = next_attempt_at + ${lateMs}
            where id = any(${insertedIds}::bigint[]) and state = 'pending' and attempts = 0`.execute(trx);
        }
        await notifyWork(trx);
      }
      const seen = new Set<string>();
      return rows.map((r) => {
        const key = `${r.message.instance}\u0000${r.message.waId}`;
        if (inserted.has(key) && !seen.has(key)) {
          seen.add(key);
          return 'inserted';
        }
        return 'duplicate';
      });
    });
    afterCommit();
    return results;
  }

  async recordRefused(rows: RefusedInput[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#db
      .insertInto('refused')
      .values(rows.map((r) => ({ received_at: r.receivedAt, source: r.source, code: r.code, reason: r.reason, instance: r.instance, event: r.event, body: r.body })))
      .execute();
  }

  async setInstanceState(instance: string, state: string, statusReason: number | null, atMs: number): Promise<void> {
    await this.#db
      .insertInto('instances')
      .values({ instance, state, status_reason: statusReason, updated_at: atMs })
      .onConflict((oc) => oc.column('instance').doUpdateSet({ state, status_reason: statusReason, updated_at: atMs }))
      .execute();
  }

  async claimLanes(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<ClaimedLane[]> {
    if (limit <= 0) return [];
    const until = nowMs + leaseMs;
    const batches = this.#batches;
    if (batches) {
      try {
        return await batches.claim(owner, limit, nowMs, leaseMs);
      } catch (error) {
        if ((error as { code?: string }).code !== WRITER_GONE) throw error;
        // The thread may have committed the claim before it went: those leases carry this claim's
        // exact expiry. Left unknown, nothing would renew or work them, and a process never reaps
        // its own leases.
        const taken = await this.#db.selectFrom('lanes').select(['instance', 'chat', 'suspect']).where('lease_owner', '=', owner).where('lease_until', '=', until).execute();
        const more = await batches.claim(owner, limit - taken.length, nowMs, leaseMs);
        return [...taken.map((r) => ({ instance: r.instance, chat: r.chat, suspect: Number(r.suspect) === 1 })), ...more];
      }
    }
    // PostgreSQL (SQLite claims on its batch path): SKIP LOCKED lets several processes share lanes.
    const query = sql<{ instance: string; chat: string; suspect: number }>`
      update lanes set lease_owner = ${owner}, lease_until = ${until}
      where (instance, chat) in (
        select instance, chat from lanes
        where due_at <= ${nowMs} and lease_owner is null
        order by due_at limit ${limit}
        for update skip locked)
      returning instance, chat, suspect`;
    const { rows } = await query.execute(this.#db);
    return rows.map((r) => ({ instance: r.instance, chat: r.chat, suspect: Number(r.suspect) === 1 }));
  }

  async laneHead(instance: string, chat: string, deadPolicy: 'skip' | 'hold'): Promise<LedgerMessage | null> {
    return deadPolicy === 'hold' ? headOf(this.#db, instance, chat, deadPolicy) : this.#headPending(this.#db, instance, chat);
  }

  async #headPending(db: Db, instance: string, chat: string): Promise<LedgerMessage | null> {
    const r = await this.#stmts.run<Selectable<MessagesTable>>(db, 'headPending', [instance, chat]);
    const row = r.rows[0];
    return row ? fromRow(row) : null;
  }

  async complete(items: Completion[]): Promise<CompletionResult[]> {
    if (items.length === 0) return [];
    const batches = this.#batches;
    if (batches) return withRetry(() => batches.complete(items));
    // Lanes are locked in one global order (the same as ingest's), so concurrent batches and
    // ingests wait for each other instead of deadlocking.
    const order = items.map((item, i) => ({ item, i })).sort((a, b) => compareLane(a.item, b.item) || a.i - b.i);
    const distinctLanes = new Set(items.map((c) => `${c.instance}\u0000${c.chat}`)).size === items.length;
    return withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        // A handful of set-based statements per batch instead of four round trips per message,
        // which is what bounds a server database here.
        if (distinctLanes && items.length > 1) return completeBatchPg(trx, items, (t, c, o) => this.#recordOutcome(t, c, o));
        const results: CompletionResult[] = new Array(items.length);
        for (const { item, i } of order) results[i] = await this.#completeOne(trx, item);
        return results;
      }),
    );
  }

  async #completeOne(trx: Transaction<Database>, c: Completion): Promise<CompletionResult> {
    // Lock the lane first: an ingest adding a message to this lane waits for us, so the lane's
    // due time computed below can never miss a message committed concurrently.
    const lane = await this.#stmts.run<{ lease_owner: string | null; lease_until: number | null }>(trx, 'laneOwner', [c.instance, c.chat]);
    const leaseHeld = lane.rows[0]?.lease_owner === c.owner;
    const until = lane.rows[0]?.lease_until;

    await this.#recordOutcome(trx, c, true);
    if (!leaseHeld) return { next: null, then: null, leaseHeld: false, leaseUntil: null };

    const move = laneAfter(c, await headsOf(trx, c.instance, c.chat, c.deadPolicy));
    if (move.keep) await this.#stmts.run(trx, 'keepLane', [move.inflightId, move.inflightNextId, c.instance, c.chat]);
    else await this.#stmts.run(trx, 'releaseLane', [move.dueAt, c.instance, c.chat]);
    return { next: move.next, then: move.then, leaseHeld: true, leaseUntil: until == null ? null : Number(until) };
  }

  /** Writes one outcome onto its message (only while still pending: a late duplicate changes nothing). */
  async #recordOutcome(trx: Transaction<Database>, c: Completion, includeDelivered: boolean): Promise<void> {
    const o = c.outcome;
    const base = trx.updateTable('messages').where('id', '=', c.messageId).where('state', '=', 'pending');
    if (o.state === 'delivered') {
      if (includeDelivered) await this.#stmts.run(trx, 'markDelivered', [o.cwMessageId, o.cwConversationId, c.nowMs, c.attemptStartedAt ?? c.nowMs, c.nowMs, c.messageId]);
    } else if (o.state === 'skipped') {
      await base.set({ state: 'skipped', last_error: o.reason, updated_at: c.nowMs }).execute();
    } else if (o.state === 'dead') {
      await base.set({ state: 'dead', last_error: o.error, updated_at: c.nowMs, attempts: sql`attempts + 1` }).execute();
    } else {
      await base
        .set({
          last_error: o.error,
          next_attempt_at: o.nextAttemptAt,
          updated_at: c.nowMs,
          ...(o.countAttempt ? { attempts: sql`attempts + 1` } : {}),
          ...(o.maybeSent ? { maybe_sent: 1, sent_at: sql<number>`coalesce(sent_at, ${c.attemptStartedAt ?? c.nowMs})` } : {}),
        })
        .execute();
    }
  }

  async settleLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold'): Promise<void> {
    const batches = this.#batches;
    if (batches) return withRetry(() => batches.settle(instance, chat, owner, deadPolicy));
    await this.#db.transaction().execute(async (trx) => {
      if (this.dialect === 'postgres') {
        await sql`select 1 from lanes where instance = ${instance} and chat = ${chat} for update`.execute(trx);
      }
      const head = await headOf(trx, instance, chat, deadPolicy);
      const due = head && head.state === 'pending' ? head.nextAttemptAt : null;
      const r = await trx
        .updateTable('lanes')
        .set({ due_at: due, lease_owner: null, lease_until: null, inflight_id: null, inflight_next_id: null })
        .where('instance', '=', instance)
        .where('chat', '=', chat)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      // A lane given back with work left (a retry waiting, a stop in the middle): others may take it.
      if (due !== null && Number(r.numUpdatedRows) > 0 && this.dialect === 'postgres') await notifyWork(trx);
    });
  }

  async renewLeases(owner: string, lanes: readonly { instance: string; chat: string }[], untilMs: number): Promise<number> {
    if (this.dialect === 'postgres' && lanes.length > 0) {
      // Rows locked in the global lane order (like completions and ingest), so a renewal never
      // deadlocks with another process's batch touching the same lanes.
      const sorted = [...lanes].sort(compareLane);
      const r = await sql`
        update lanes set lease_until = ${untilMs}
        where (instance, chat) in (
          select l.instance, l.chat from lanes l
          join unnest(${sorted.map((l) => l.instance)}::text[], ${sorted.map((l) => l.chat)}::text[]) as v(instance, chat) on l.instance = v.instance and l.chat = v.chat
          where l.lease_owner = ${owner}
          order by l.instance, l.chat
          for update of l)`.execute(this.#db);
      return Number(r.numAffectedRows ?? 0);
    }
    let n = 0;
    for (let i = 0; i < lanes.length; i += INSERT_CHUNK) {
      const chunk = lanes.slice(i, i + INSERT_CHUNK);
      const r = await this.#db
        .updateTable('lanes')
        .set({ lease_until: untilMs })
        .where('lease_owner', '=', owner)
        .where((eb) => eb.or(chunk.map((l) => eb.and([eb('instance', '=', l.instance), eb('chat', '=', l.chat)]))))
        .executeTakeFirst();
      n += Number(r.numUpdatedRows);
    }
    return n;
  }

  async startLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold', nowMs: number): Promise<LaneStart> {
    const batches = this.#batches;
    if (batches) return withRetry(() => batches.startLane(instance, chat, owner, deadPolicy, nowMs));
    return withRetry(() =>
      this.#db.transaction().execute(async (trx) => {
        // The lane row first (the global lock order): a completion or fold waits for us.
        const lane = (await this.#stmts.run<{ lease_owner: string | null; lease_until: number | null }>(trx, 'laneOwner', [instance, chat])).rows[0];
        const start = laneStart(nowMs, await headsOf(trx, instance, chat, deadPolicy));
        if (lane?.lease_owner !== owner) return { head: null, then: null, leaseUntil: null };
        const leaseUntil = lane.lease_until == null ? null : Number(lane.lease_until);
        if (start.inflightId === null) return { head: null, then: null, leaseUntil };
        await this.#stmts.run(trx, 'markInflight', [start.inflightId, start.inflightNextId, instance, chat, owner]);
        return { head: start.next, then: start.then, leaseUntil };
      }),
    );
  }

  async abandonLane(instance: string, chat: string, owner: string, nowMs: number): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await this.#flagInflight(trx, (q) => q.where('instance', '=', instance).where('chat', '=', chat).where('lease_owner', '=', owner));
      await trx
        .updateTable('lanes')
        .set({ lease_owner: null, lease_until: null, inflight_id: null, inflight_next_id: null, suspect: 1, due_at: nowMs })
        .where('instance', '=', instance)
        .where('chat', '=', chat)
        .where('lease_owner', '=', owner)
        .execute();
    });
  }

  /**
   * The messages a lost owner was delivering (the one in flight and, pipelined, the one after it)
   * may be in Chatwoot already: flag them, so each is looked up before any re-send and, pinned at
   * the head of its lane, settled before anything else there.
   */
  async #flagInflight(
    trx: Transaction<Database>,
    which: (q: SelectQueryBuilder<Database, 'lanes', object>) => SelectQueryBuilder<Database, 'lanes', object>,
  ): Promise<void> {
    const flag = (column: 'inflight_id' | 'inflight_next_id') =>
      trx
        .updateTable('messages')
        .set({ maybe_sent: 1 })
        .where('state', '=', 'pending')
        .where('id', 'in', which(trx.selectFrom('lanes')).select(column).where(column, 'is not', null) as never)
        .execute();
    await flag('inflight_id');
    await flag('inflight_next_id');
  }

  async lastDeliveredCwMessageId(instance: string, chat: string): Promise<number | null> {
    const r = await this.#db
      .selectFrom('messages')
      .select((eb) => eb.fn.max('cw_message_id').as('last'))
      .where('instance', '=', instance)
      .where('chat', '=', chat)
      .where('state', '=', 'delivered')
      .executeTakeFirst();
    return r?.last == null ? null : Number(r.last);
  }

  async releaseLanes(owner: string): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      // A clean stop leaves nothing named in flight; a lane whose outcome could not be recorded
      // (and whose abandon failed too) still does, and those messages may be in Chatwoot.
      await this.#flagInflight(trx, (q) => q.where('lease_owner', '=', owner));
      const r = await trx.updateTable('lanes').set({ lease_owner: null, lease_until: null, inflight_id: null, inflight_next_id: null }).where('lease_owner', '=', owner).executeTakeFirst();
      const n = Number(r.numUpdatedRows);
      // A stopping process's lanes are free at once: the others need not wait for their next poll.
      if (n > 0 && this.dialect === 'postgres') await notifyWork(trx);
      return n;
    });
  }

  async reapExpiredLeases(nowMs: number, exceptOwner?: string): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      await this.#flagInflight(trx, (q) => {
        const r = q.where('lease_owner', 'is not', null).where('lease_until', '<', nowMs);
        return exceptOwner ? r.where('lease_owner', '!=', exceptOwner) : r;
      });
      let q = trx
        .updateTable('lanes')
        .set({ lease_owner: null, lease_until: null, inflight_id: null, inflight_next_id: null, suspect: 1 })
        .where('lease_owner', 'is not', null)
        .where('lease_until', '<', nowMs);
      if (exceptOwner) q = q.where('lease_owner', '!=', exceptOwner);
      const r = await q.executeTakeFirst();
      const n = Number(r.numUpdatedRows);
      if (n > 0 && this.dialect === 'postgres') await notifyWork(trx);
      return n;
    });
  }

  async nextDueAt(): Promise<number | null> {
    const r = await this.#db
      .selectFrom('lanes')
      .select((eb) => eb.fn.min('due_at').as('due'))
      .where('due_at', 'is not', null)
      .where('lease_owner', 'is', null)
      .executeTakeFirst();
    return r?.due == null ? null : Number(r.due);
  }

  async getChatLink(instance: string, chat: string, accountId: number, inboxId: number): Promise<ChatLink | null> {
    const r = await this.#db
      .selectFrom('chat_links')
      .selectAll()
      .where('instance', '=', instance)
      .where('chat', '=', chat)
      .where('account_id', '=', accountId)
      .where('inbox_id', '=', inboxId)
      .executeTakeFirst();
    if (!r) return null;
    return {
      instance: r.instance, chat: r.chat, accountId: Number(r.account_id), inboxId: Number(r.inbox_id),
      contactId: Number(r.contact_id), contactSourceId: r.contact_source_id,
      conversationId: r.conversation_id == null ? null : Number(r.conversation_id),
      conversationCheckedAt: r.conversation_checked_at == null ? null : Number(r.conversation_checked_at),
    };
  }

  async saveChatLink(link: ChatLink, nowMs: number): Promise<void> {
    const values = {
      contact_id: link.contactId, contact_source_id: link.contactSourceId, conversation_id: link.conversationId,
      conversation_checked_at: link.conversationCheckedAt, updated_at: nowMs,
    };
    await this.#db
      .insertInto('chat_links')
      .values({ instance: link.instance, chat: link.chat, account_id: link.accountId, inbox_id: link.inboxId, ...values })
      .onConflict((oc) => oc.columns(['instance', 'chat', 'account_id', 'inbox_id']).doUpdateSet(values))
      .execute();
  }

  async counts(): Promise<LedgerCounts> {
    const rows = await this.#db.selectFrom('messages').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    const refused = await this.#db.selectFrom('refused').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const c: LedgerCounts = { pending: 0, delivered: 0, skipped: 0, dead: 0, refused: Number(refused?.n ?? 0) };
    for (const r of rows) if (r.state in c) c[r.state as MessageState] = Number(r.n);
    return c;
  }

  async oldestPendingReceivedAt(): Promise<number | null> {
    // One index seek per direction on (state, direction, received_at): a min() over the state
    // alone read every pending row (0.6 s of a stalled event loop with a million queued).
    const oldest = (direction: Direction) =>
      this.#db.selectFrom('messages').select((eb) => eb.fn.min('received_at').as('at')).where('state', '=', 'pending').where('direction', '=', direction).executeTakeFirst();
    const ats = (await Promise.all([oldest('to_chatwoot'), oldest('to_whatsapp')])).map((r) => (r?.at == null ? null : Number(r.at))).filter((at): at is number => at !== null);
    return ats.length > 0 ? Math.min(...ats) : null;
  }

  async listMessages(q: MessageQuery): Promise<LedgerMessage[]> {
    let query = this.#db.selectFrom('messages').selectAll();
    if (q.instance) query = query.where('instance', '=', q.instance);
    if (q.chat) query = query.where('chat', '=', q.chat);
    if (q.state) query = query.where('state', '=', q.state);
    if (q.direction) query = query.where('direction', '=', q.direction);
    if (q.afterId) query = query.where('id', '>', q.afterId);
    const rows = await query.orderBy('id').limit(q.limit ?? 1000).execute();
    return rows.map(fromRow);
  }

  async getMessage(instance: string, waId: string): Promise<LedgerMessage | null> {
    const r = await this.#db.selectFrom('messages').selectAll().where('instance', '=', instance).where('wa_id', '=', waId).executeTakeFirst();
    return r ? fromRow(r) : null;
  }

  async listRefused(limit: number): Promise<(RefusedInput & { id: number })[]> {
    const rows = await this.#db.selectFrom('refused').selectAll().orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), source: r.source, code: r.code, reason: r.reason, instance: r.instance, event: r.event, body: r.body, receivedAt: Number(r.received_at) }));
  }

  async retryDead(messageId: number, nowMs: number): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const m = await trx
        .updateTable('messages')
        .set({ state: 'pending', attempts: 0, next_attempt_at: nowMs, updated_at: nowMs })
        .where('id', '=', messageId)
        .where('state', '=', 'dead')
        .returning(['instance', 'chat'])
        .executeTakeFirst();
      if (!m) return false;
      await wakeLane(trx, this.dialect, m, nowMs);
      return true;
    });
  }

  discardDead(messageId: number, nowMs: number): Promise<boolean> {
    return operator.discardDead(this.#db, this.dialect, messageId, nowMs);
  }

  throughputSince(fromMs: number): Promise<ThroughputBucket[]> {
    return operator.throughputSince(this.#db, fromMs);
  }

  instanceStates(): Promise<InstanceStateRecord[]> {
    return operator.instanceStates(this.#db);
  }

  backlogByInstance(): Promise<InstanceBacklog[]> {
    return operator.backlogByInstance(this.#db);
  }

  searchMessages(q: MessageSearch): Promise<LedgerMessage[]> {
    return operator.searchMessages(this.#db, q);
  }

  async existingWaIds(instance: string, waIds: readonly string[]): Promise<Map<string, KnownWaId>> {
    const out = new Map<string, KnownWaId>();
    const unique = [...new Set(waIds)];
    // Chunked `in (...)` lists of bound parameters: the unique (instance, wa_id) index answers each.
    for (let i = 0; i < unique.length; i += INSERT_CHUNK) {
      const rows = await this.#db
        .selectFrom('messages')
        .select(['wa_id', 'chat', 'state', 'wa_ts', 'cw_conversation_id', 'cw_message_id', 'received_at', 'delivered_at', 'sent_at'])
        .where('instance', '=', instance)
        .where('wa_id', 'in', unique.slice(i, i + INSERT_CHUNK))
        .execute();
      for (const r of rows) {
        out.set(r.wa_id, {
          chat: r.chat, state: r.state as MessageState, waTs: Number(r.wa_ts),
          cwConversationId: r.cw_conversation_id == null ? null : Number(r.cw_conversation_id),
          cwMessageId: r.cw_message_id == null ? null : Number(r.cw_message_id),
          receivedAt: Number(r.received_at), deliveredAt: r.delivered_at == null ? null : Number(r.delivered_at),
          sentAt: r.sent_at == null ? null : Number(r.sent_at),
        });
      }
    }
    return out;
  }

  async cwMessageIdDeliveredBefore(instance: string, atMs: number): Promise<number | null> {
    // The newest delivery before the time, found backwards on the delivered_at index.
    const r = await this.#db
      .selectFrom('messages')
      .select('cw_message_id')
      .where('delivered_at', '<', atMs)
      .where('instance', '=', instance)
      .where('cw_message_id', 'is not', null)
      .orderBy('delivered_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r?.cw_message_id == null ? null : Number(r.cw_message_id);
  }

  async recordReconcileRun(run: ReconcileRun): Promise<void> {
    await this.#db
      .insertInto('reconcile_runs')
      .values({
        instance: run.instance, trigger: run.trigger, window_from: run.windowFrom, window_to: run.windowTo, chat: run.chat,
        pages: run.pages, compared: run.compared, missing: run.missing, repaired: run.repaired, unusable: run.unusable,
        agent_conversations: run.agentConversations, agent_compared: run.agentCompared, agent_missing: run.agentMissing, agent_repaired: run.agentRepaired,
        error: run.error, started_at: run.startedAt, duration_ms: run.durationMs,
      })
      .execute();
  }

  async listReconcileRuns(instance: string | null, limit: number): Promise<(ReconcileRun & { id: number })[]> {
    let q = this.#db.selectFrom('reconcile_runs').selectAll();
    if (instance !== null) q = q.where('instance', '=', instance);
    const rows = await q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id), instance: r.instance, trigger: r.trigger, windowFrom: Number(r.window_from), windowTo: Number(r.window_to), chat: r.chat,
      pages: Number(r.pages), compared: Number(r.compared), missing: Number(r.missing), repaired: Number(r.repaired), unusable: Number(r.unusable),
      agentConversations: Number(r.agent_conversations), agentCompared: Number(r.agent_compared), agentMissing: Number(r.agent_missing), agentRepaired: Number(r.agent_repaired),
      error: r.error, startedAt: Number(r.started_at), durationMs: Number(r.duration_ms),
    }));
  }

  async recordSentWaId(messageId: number, sentWaId: string, nowMs: number): Promise<void> {
    await this.#db.updateTable('messages').set({ sent_wa_id: sentWaId, updated_at: nowMs }).where('id', '=', messageId).execute();
  }

  async findBySentWaId(instance: string, sentWaId: string): Promise<LedgerMessage | null> {
    const r = await this.#db.selectFrom('messages').selectAll().where('instance', '=', instance).where('sent_wa_id', '=', sentWaId).executeTakeFirst();
    return r ? fromRow(r) : null;
  }

  async fromMeInWindow(instance: string, chat: string, fromTs: number, toTs: number, limit: number): Promise<LedgerMessage[]> {
    const rows = await this.#db
      .selectFrom('messages')
      .selectAll()
      .where('instance', '=', instance)
      .where('chat', '=', chat)
      .where('direction', '=', 'to_chatwoot')
      .where('from_me', '=', 1)
      .where('wa_ts', '>=', fromTs)
      .where('wa_ts', '<=', toTs)
      .orderBy('wa_ts')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  async setWaStatus(messageId: number, status: string, nowMs: number): Promise<void> {
    await this.#db.updateTable('messages').set({ wa_status: status, updated_at: nowMs }).where('id', '=', messageId).execute();
  }

  async chatLinkByConversation(accountId: number, inboxId: number, conversationId: number): Promise<ChatLink | null> {
    const r = await this.#db
      .selectFrom('chat_links')
      .select(['instance', 'chat'])
      .where('account_id', '=', accountId)
      .where('inbox_id', '=', inboxId)
      .where('conversation_id', '=', conversationId)
      .orderBy('updated_at', 'desc')
      .executeTakeFirst();
    return r ? this.getChatLink(r.instance, r.chat, accountId, inboxId) : null;
  }

  async learnIdentity(instance: string, lid: string, phoneJid: string, nowMs: number): Promise<LearnResult> {
    return withRetry(() => this.#db.transaction().execute((trx) => this.#identities.learn(trx, instance, { lid, phoneJid }, nowMs)));
  }

  identityOf(instance: string, jid: string): Promise<IdentityRecord | null> {
    return this.#identities.identityOf(this.#db, instance, jid);
  }

  listIdentities(instance: string): Promise<IdentityRecord[]> {
    return this.#identities.list(this.#db, instance);
  }

  mergePendingIdentities(nowMs: number): Promise<number> {
    return this.#identities.mergePending(this.#db, nowMs);
  }

  close(): Promise<void> {
    return this.#conn.close();
  }
}

/**
 * New messages in one PostgreSQL statement, however many: the rows go as one JSON document, read by
 * `json_to_recordset`. Typed arrays per column (unnest) made the driver escape every element of
 * every column in JavaScript; one `JSON.stringify` is native. The payload travels as a string
 * (JSON text inside JSON), not as a nested `json` value: PostgreSQL's JSON parser refuses `\u0000`
 * and unpaired surrogates, which a message's text may hold and its stored payload must keep.
 */
async function insertPg(trx: Transaction<Database>, rows: readonly NewMessage[], nowMs: number, dueAtMs: number): Promise<{ id: number; instance: string; wa_id: string; chat: string }[]> {
  const doc = JSON.stringify(rows.map((r) => {
    const m = r.message;
    return { i: m.instance, w: m.waId, c: m.chat, d: r.direction, f: m.fromMe ? 1 : 0, t: m.timestamp, s: r.source, e: m.event, p: JSON.stringify(m) };
  }));
  const { rows: out } = await sql<{ id: number; instance: string; wa_id: string; chat: string }>`
    insert into messages (instance, wa_id, chat, direction, from_me, wa_ts, source, event, payload, state, attempts, next_attempt_at, maybe_sent, received_at, updated_at)
    select v.i, v.w, v.c, v.d, v.f, v.t, v.s, v.e, v.p, 'pending', 0, ${dueAtMs}::bigint, 0, ${nowMs}::bigint, ${nowMs}::bigint
    from json_to_recordset(${doc}::json) as v(i text, w text, c text, d text, f int, t bigint, s text, e text, p text)
    on conflict (instance, wa_id) do nothing
    returning id, instance, wa_id, chat`.execute(trx);
  return out;
}

/**
 * A batch's arrival stamp, taken when nothing can overtake it any more (never before the batch
 * began), and its due time: the ordering window counted from that stamp, not from the batch's start.
 */
function stampArrival(nowMs: number, dueAtMs: number, arrival: (() => number) | undefined): { at: number; dueAt: number } {
  const at = arrival ? Math.max(nowMs, arrival()) : nowMs;
  return { at, dueAt: dueAtMs + (at - nowMs) };
}

function compareKey(a: { instance: string; waId: string }, b: { instance: string; waId: string }): number {
  return a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : a.waId < b.waId ? -1 : a.waId > b.waId ? 1 : 0;
}

function compareLane(a: { instance: string; chat: string }, b: { instance: string; chat: string }): number {
  return a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : a.chat < b.chat ? -1 : a.chat > b.chat ? 1 : 0;
}

/** PostgreSQL may abort a transaction as a deadlock victim or on a serialization conflict: run it again. */
async function withRetry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: string }).code;
      const retryable = code === '40P01' || code === '40001' || code === 'SQLITE_BUSY' || code === WRITER_GONE;
      if (!retryable || i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 20));
    }
  }
}

async function headOf(db: Db, instance: string, chat: string, deadPolicy: 'skip' | 'hold'): Promise<LedgerMessage | null> {
  return (await headsOf(db, instance, chat, deadPolicy, 1))[0] ?? null;
}

/** The lane's first messages in lane order: what it delivers next, and what may follow at once. */
async function headsOf(db: Db, instance: string, chat: string, deadPolicy: 'skip' | 'hold', limit = LANE_LOOKAHEAD): Promise<LedgerMessage[]> {
  // One state per scan: with `state in (...)` both engines read every row of the chat (its whole
  // history) and sort them, where `state = ?` walks the lane index in order and stops at `limit`.
  const scan = (state: 'pending' | 'dead') =>
    db
      .selectFrom('messages')
      .selectAll()
      .where('instance', '=', instance)
      .where('chat', '=', chat)
      .where('state', '=', state)
      .orderBy('maybe_sent', 'desc')
      .orderBy('wa_ts')
      .orderBy('id')
      .limit(limit)
      .execute();
  const rows = deadPolicy === 'hold' ? [...(await scan('pending')), ...(await scan('dead'))].sort(laneOrder).slice(0, limit) : await scan('pending');
  return rows.map(fromRow);
}

function laneOrder(a: Selectable<MessagesTable>, b: Selectable<MessagesTable>): number {
  return Number(b.maybe_sent) - Number(a.maybe_sent) || Number(a.wa_ts) - Number(b.wa_ts) || Number(a.id) - Number(b.id);
}
