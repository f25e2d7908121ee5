import { type Selectable, type Transaction, sql } from 'kysely';
import { LANE_LOOKAHEAD, laneAfter } from './lane-after.js';
import type { Completion, CompletionResult, LedgerMessage } from './ledger.js';
import type { Database, MessagesTable } from './schema.js';
import { fromRow } from './rows.js';
import { lockLanesPg } from './pg-lane-locks.js';

type RecordOutcome = (trx: Transaction<Database>, c: Completion, includeDelivered: boolean) => Promise<void>;

/**
 * A batch of completions on PostgreSQL in five statements, whatever its size: lock the lanes
 * (sorted, like every other lane lock, so batches never deadlock), record the deliveries, record
 * the rare other outcomes one by one, read each held lane's next head (an index seek per lane via
 * LATERAL), and move the lanes on. Same effects as completing the items one at a time.
 */
export async function completeBatchPg(trx: Transaction<Database>, items: Completion[], recordOutcome: RecordOutcome): Promise<CompletionResult[]> {
  const owners = await lockLanesPg(trx, items);
  const ownerOf = new Map(owners.map((r) => [`${r.instance}\u0000${r.chat}`, r.lease_owner]));
  const untilOf = new Map(owners.map((r) => [`${r.instance}\u0000${r.chat}`, r.lease_until == null ? null : Number(r.lease_until)]));

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

  const held = items.filter((c) => ownerOf.get(`${c.instance}\u0000${c.chat}`) === c.owner);
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
  const laneRows: { instance: string; chat: string; keep: boolean; due: number | null; inflight: number | null; next: number | null }[] = [];
  for (const c of items) {
    const key = `${c.instance}\u0000${c.chat}`;
    if (ownerOf.get(key) !== c.owner) {
      results.push({ next: null, then: null, leaseHeld: false, leaseUntil: null });
      continue;
    }
    const move = laneAfter(c, heads.get(key) ?? []);
    laneRows.push({ instance: c.instance, chat: c.chat, keep: move.keep, due: move.dueAt, inflight: move.inflightId, next: move.inflightNextId });
    results.push({ next: move.next, then: move.then, leaseHeld: true, leaseUntil: untilOf.get(key) ?? null });
  }
  if (laneRows.length > 0) {
    await sql`
      update lanes set
        due_at = case when v.keep then lanes.due_at else v.due end,
        lease_owner = case when v.keep then lanes.lease_owner end,
        lease_until = case when v.keep then lanes.lease_until end,
        inflight_id = v.inflight, inflight_next_id = v.next, suspect = 0
      from unnest(${laneRows.map((r) => r.instance)}::text[], ${laneRows.map((r) => r.chat)}::text[], ${laneRows.map((r) => r.keep)}::boolean[],
                  ${laneRows.map((r) => r.due)}::bigint[], ${laneRows.map((r) => r.inflight)}::bigint[], ${laneRows.map((r) => r.next)}::bigint[])
        as v(instance, chat, keep, due, inflight, next)
      where lanes.instance = v.instance and lanes.chat = v.chat`.execute(trx);
  }
  return results;
}
