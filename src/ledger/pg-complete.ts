import { type Kysely, type Selectable, type Transaction, sql } from 'kysely';
import { LANE_LOOKAHEAD, isPipelined, laneAfter, windowIds } from './lane-after.js';
import type { Completion, CompletionResult, LedgerMessage } from './ledger.js';
import type { Database, MessagesTable } from './schema.js';
import { fromRow } from './rows.js';

type RecordOutcome = (trx: Transaction<Database>, c: Completion, includeDelivered: boolean) => Promise<void>;

/**
 * A batch of completions on PostgreSQL in five statements, whatever its size: lock the lanes
 * (sorted, like every other lane lock, so batches never deadlock), record the deliveries, record
 * the rare other outcomes one by one, read each held lane's next head (an index seek per lane via
 * LATERAL), and move the lanes on. Same effects as completing the items one at a time.
 */
export async function completeBatchPg(trx: Transaction<Database>, items: Completion[], recordOutcome: RecordOutcome): Promise<CompletionResult[]> {
  const instances = items.map((c) => c.instance);
  const chats = items.map((c) => c.chat);
  const owners = await sql<{ instance: string; chat: string; lease_owner: string | null; lease_until: number | null }>`
    select l.instance, l.chat, l.lease_owner, l.lease_until from lanes l
    join unnest(${instances}::text[], ${chats}::text[]) as v(instance, chat) on l.instance = v.instance and l.chat = v.chat
    order by l.instance, l.chat
    for update of l`.execute(trx);
  const ownerOf = new Map(owners.rows.map((r) => [`${r.instance}\u0000${r.chat}`, r.lease_owner]));
  const untilOf = new Map(owners.rows.map((r) => [`${r.instance}\u0000${r.chat}`, r.lease_until == null ? null : Number(r.lease_until)]));

  const delivered = items.filter((c) => c.outcome.state === 'delivered');
  if (delivered.length > 0) {
    const d = delivered.map((c) => c.outcome as Extract<Completion['outcome'], { state: 'delivered' }>);
    await sql`
      update messages m set state = 'delivered', cw_message_id = v.cw, cw_conversation_id = v.conv,
        delivered_at = v.at, sent_at = coalesce(m.sent_at, v.sent), updated_at = v.at, maybe_sent = 0, last_error = null, attempts = m.attempts + 1
      from unnest(${delivered.map((c) => c.messageId)}::bigint[], ${d.map((o) => o.cwMessageId)}::bigint[],
                  ${d.map((o) => o.cwConversationId)}::bigint[], ${delivered.map((c) => c.nowMs)}::bigint[], ${delivered.map((c) => c.attemptStartedAt ?? c.nowMs)}::bigint[]) as v(id, cw, conv, at, sent)
      where m.id = v.id and m.state = 'pending'`.execute(trx);
  }
  for (const c of items) if (c.outcome.state !== 'delivered') await recordOutcome(trx, c, false);

  // Mid-window outcomes leave their lanes as they are: only the others read heads and move lanes.
  const held = items.filter((c) => ownerOf.get(`${c.instance}\u0000${c.chat}`) === c.owner && !isPipelined(c));
  const heads = new Map<string, LedgerMessage[]>();
  // One ordered index scan per lane and state (see headsOf): the policy decides the states.
  for (const [policy, lanes] of [['skip', held.filter((c) => c.deadPolicy !== 'hold')], ['hold', held.filter((c) => c.deadPolicy === 'hold')]] as const) {
    if (lanes.length === 0) continue;
    const scan = (state: string) => sql`(select * from messages m where m.instance = l.instance and m.chat = l.chat and m.state = ${state} order by m.maybe_sent desc, m.wa_ts, m.id limit ${LANE_LOOKAHEAD})`;
    const rows = await sql<Selectable<MessagesTable>>`
      select h.* from unnest(${lanes.map((c) => c.instance)}::text[], ${lanes.map((c) => c.chat)}::text[]) as l(instance, chat)
      cross join lateral ${policy === 'hold' ? sql`(select * from (${scan('pending')} union all ${scan('dead')}) u order by u.maybe_sent desc, u.wa_ts, u.id limit ${LANE_LOOKAHEAD})` : scan('pending')} h
      order by h.instance, h.chat, h.maybe_sent desc, h.wa_ts, h.id`.execute(trx);
    for (const r of rows.rows) {
      const key = `${r.instance}\u0000${r.chat}`;
      heads.set(key, [...(heads.get(key) ?? []), fromRow(r)]);
    }
  }

  const results: CompletionResult[] = [];
  const laneRows: { instance: string; chat: string; keep: boolean; due: number | null; inflight: number | null; next: number | null; ids: string | null }[] = [];
  for (const c of items) {
    const key = `${c.instance}\u0000${c.chat}`;
    if (ownerOf.get(key) !== c.owner) {
      results.push({ next: null, ahead: [], leaseHeld: false, leaseUntil: null });
      continue;
    }
    const move = laneAfter(c, heads.get(key) ?? []);
    if (!move.unchanged) laneRows.push({ instance: c.instance, chat: c.chat, keep: move.keep, due: move.dueAt, inflight: move.inflightId, next: move.inflightNextId, ids: windowIds(move.inflightIds) });
    results.push({ next: move.next, ahead: move.ahead, leaseHeld: true, leaseUntil: untilOf.get(key) ?? null });
  }
  if (laneRows.length > 0) {
    await sql`
      update lanes set
        due_at = case when v.keep then lanes.due_at else v.due end,
        lease_owner = case when v.keep then lanes.lease_owner end,
        lease_until = case when v.keep then lanes.lease_until end,
        inflight_id = v.inflight, inflight_next_id = v.next, inflight_ids = v.ids, suspect = 0
      from unnest(${laneRows.map((r) => r.instance)}::text[], ${laneRows.map((r) => r.chat)}::text[], ${laneRows.map((r) => r.keep)}::boolean[],
                  ${laneRows.map((r) => r.due)}::bigint[], ${laneRows.map((r) => r.inflight)}::bigint[], ${laneRows.map((r) => r.next)}::bigint[],
                  ${laneRows.map((r) => r.ids)}::text[])
        as v(instance, chat, keep, due, inflight, next, ids)
      where lanes.instance = v.instance and lanes.chat = v.chat`.execute(trx);
  }
  return results;
}

type Delivered = Completion & { outcome: Extract<Completion['outcome'], { state: 'delivered' }> };

/** A delivered outcome in the middle of a window: it writes its message's row and nothing else. */
export function isMidWindowDelivery(c: Completion): c is Delivered {
  return c.outcome.state === 'delivered' && isPipelined(c);
}

/**
 * A batch of mid-window deliveries on PostgreSQL as one statement in its own transaction: the
 * rows marked delivered, and each lane's owner read back to tell whether the lease is still held.
 * No lane is locked or moved (see laneAfter), so the four round trips of a transaction (begin, the
 * lock, the update, commit) become one: each woke a server process that shares the machine's cores
 * with everything else, and the socket writes were most of the event loop's share of a delivery.
 * A takeover flagging these messages meanwhile is harmless either way round: a delivered message
 * is no longer pending, and the flag is cleared by the delivery.
 */
export async function completeMidWindowPg(db: Kysely<Database>, items: Delivered[]): Promise<CompletionResult[]> {
  const o = items.map((c) => c.outcome);
  const { rows } = await sql<{ instance: string; chat: string; lease_owner: string | null; lease_until: number | null }>`
    with delivered as (
      update messages m set state = 'delivered', cw_message_id = v.cw, cw_conversation_id = v.conv,
        delivered_at = v.at, sent_at = coalesce(m.sent_at, v.sent), updated_at = v.at, maybe_sent = 0, last_error = null, attempts = m.attempts + 1
      from unnest(${items.map((c) => c.messageId)}::bigint[], ${o.map((x) => x.cwMessageId)}::bigint[],
                  ${o.map((x) => x.cwConversationId)}::bigint[], ${items.map((c) => c.nowMs)}::bigint[], ${items.map((c) => c.attemptStartedAt ?? c.nowMs)}::bigint[]) as v(id, cw, conv, at, sent)
      where m.id = v.id and m.state = 'pending'
      returning m.id)
    select l.instance, l.chat, l.lease_owner, l.lease_until from lanes l
    join (select distinct instance, chat from unnest(${items.map((c) => c.instance)}::text[], ${items.map((c) => c.chat)}::text[]) as u(instance, chat)) v
      on l.instance = v.instance and l.chat = v.chat`.execute(db);
  const lanes = new Map(rows.map((r) => [`${r.instance}\u0000${r.chat}`, r]));
  return items.map((c) => {
    const lane = lanes.get(`${c.instance}\u0000${c.chat}`);
    if (lane?.lease_owner !== c.owner) return { next: null, ahead: [], leaseHeld: false, leaseUntil: null };
    return { next: null, ahead: [], leaseHeld: true, leaseUntil: lane.lease_until == null ? null : Number(lane.lease_until) };
  });
}
