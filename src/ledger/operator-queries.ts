import { type Kysely, sql } from 'kysely';
import { DISCARDED_BY_OPERATOR, type InstanceBacklog, type InstanceStateRecord, type LedgerMessage, type MessageSearch, type ThroughputBucket } from './ledger.js';
import { wakeLane } from './pg-notify.js';
import { fromRow } from './rows.js';
import type { Database } from './schema.js';

/**
 * The operator's reads and the discard action (dashboard, trace), identical on both dialects.
 * Every read here is answered by an index: they run while the service is under load.
 */

const MINUTE_MS = 60_000;
/** Inlined, not bound: SQLite binds a JS number as a real, which would make the division real. */
const PER_MINUTE = sql.raw(String(MINUTE_MS));

export async function throughputSince(db: Kysely<Database>, fromMs: number): Promise<ThroughputBucket[]> {
  // Integer division on both dialects; each query is a range scan of a covering index (0006).
  const received = await sql<{ instance: string; minute: number | string; n: number | string }>`
    select instance, received_at / ${PER_MINUTE} as minute, count(*) as n
    from messages where received_at >= ${fromMs}
    group by instance, received_at / ${PER_MINUTE}`.execute(db);
  const delivered = await sql<{ instance: string; minute: number | string; n: number | string; lag_sum: number | string | null; lag_max: number | string | null }>`
    select instance, delivered_at / ${PER_MINUTE} as minute, count(*) as n,
           sum(delivered_at - received_at) as lag_sum, max(delivered_at - received_at) as lag_max
    from messages where delivered_at >= ${fromMs}
    group by instance, delivered_at / ${PER_MINUTE}`.execute(db);
  const buckets = new Map<string, ThroughputBucket>();
  const bucket = (instance: string, minute: number | string): ThroughputBucket => {
    const minuteAt = Number(minute) * MINUTE_MS;
    const key = `${instance}\u0000${minuteAt}`;
    let b = buckets.get(key);
    if (!b) {
      b = { instance, minuteAt, received: 0, delivered: 0, lagMsSum: 0, lagMsMax: 0 };
      buckets.set(key, b);
    }
    return b;
  };
  for (const r of received.rows) bucket(r.instance, r.minute).received = Number(r.n);
  for (const r of delivered.rows) {
    const b = bucket(r.instance, r.minute);
    b.delivered = Number(r.n);
    b.lagMsSum = Number(r.lag_sum ?? 0);
    b.lagMsMax = Number(r.lag_max ?? 0);
  }
  return [...buckets.values()].sort((a, b) => a.minuteAt - b.minuteAt || (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
}

export async function instanceStates(db: Kysely<Database>): Promise<InstanceStateRecord[]> {
  const rows = await db.selectFrom('instances').selectAll().orderBy('instance').execute();
  return rows.map((r) => ({ instance: r.instance, state: r.state, statusReason: r.status_reason == null ? null : Number(r.status_reason), updatedAt: Number(r.updated_at) }));
}

export async function backlogByInstance(db: Kysely<Database>): Promise<InstanceBacklog[]> {
  // Pending and dead rows are the few; the (state, direction) index finds exactly them.
  const rows = await db
    .selectFrom('messages')
    .select(['instance', 'state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('state', 'in', ['pending', 'dead'])
    .groupBy(['instance', 'state'])
    .execute();
  const out = new Map<string, InstanceBacklog>();
  for (const r of rows) {
    const b = out.get(r.instance) ?? { instance: r.instance, pending: 0, dead: 0 };
    if (r.state === 'pending') b.pending = Number(r.n);
    else b.dead = Number(r.n);
    out.set(r.instance, b);
  }
  return [...out.values()].sort((a, b) => (a.instance < b.instance ? -1 : 1));
}

export async function discardDead(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', messageId: number, nowMs: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const m = await trx
      .updateTable('messages')
      .set({
        state: 'skipped',
        // The error that killed it stays readable after the decision.
        last_error: sql<string>`${DISCARDED_BY_OPERATOR} || coalesce(' (last error: ' || last_error || ')', '')`,
        updated_at: nowMs,
      })
      .where('id', '=', messageId)
      .where('state', '=', 'dead')
      .returning(['instance', 'chat'])
      .executeTakeFirst();
    if (!m) return false;
    await wakeLane(trx, dialect, m, nowMs);
    return true;
  });
}

export async function searchMessages(db: Kysely<Database>, q: MessageSearch): Promise<LedgerMessage[]> {
  const limit = Math.max(1, Math.min(q.limit, 500));
  // The message indexes lead with the instance: naming every instance lets a look-up by id or chat
  // use them (few instances, and lanes' primary key lists them without touching messages).
  const instances = (await db.selectFrom('lanes').select('instance').distinct().execute()).map((r) => r.instance);
  const found = new Map<number, LedgerMessage>();
  const add = (rows: Parameters<typeof fromRow>[0][]) => {
    for (const r of rows) found.set(Number(r.id), fromRow(r));
  };
  const base = () => db.selectFrom('messages').selectAll();
  if (q.waId !== undefined && instances.length > 0) {
    add(await base().where('instance', 'in', instances).where('wa_id', '=', q.waId).limit(limit).execute());
    add(await base().where('instance', 'in', instances).where('sent_wa_id', '=', q.waId).limit(limit).execute());
  }
  if (q.cwMessageId !== undefined) {
    add(await base().where('cw_message_id', '=', q.cwMessageId).limit(limit).execute());
    // An agent reply is keyed by its Chatwoot id (cw:<id>), before and after it is sent.
    if (instances.length > 0) add(await base().where('instance', 'in', instances).where('wa_id', '=', `cw:${q.cwMessageId}`).limit(limit).execute());
  }
  const chats: { instance: string; chat: string }[] = [];
  if (q.chat !== undefined) for (const instance of instances) chats.push({ instance, chat: q.chat });
  if (q.cwConversationId !== undefined) {
    // chat_links has one row per chat and target: small enough to read without its index.
    chats.push(...(await db.selectFrom('chat_links').select(['instance', 'chat']).where('conversation_id', '=', q.cwConversationId).execute()));
  }
  for (const c of chats) {
    add(await base().where('instance', '=', c.instance).where('chat', '=', c.chat).orderBy('id', 'desc').limit(limit).execute());
  }
  return [...found.values()].sort((a, b) => b.id - a.id).slice(0, limit);
}
