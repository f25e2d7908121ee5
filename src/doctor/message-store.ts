import { existsSync } from 'node:fs';
import { type Connection, connect, parseDatabaseUrl } from '../ledger/connect.js';
import type { EvolutionClient } from '../evolution/client.js';
import { type CheckResult, fail, ok, warn } from './types.js';

/**
 * A message received this long ago has surely been written by Evolution: it saves a message
 * before it emits the event, and this leaves room for a slow database.
 */
const SETTLE_MS = 10_000;
const SAMPLE = 5;

const SWITCH = 'DATABASE_SAVE_DATA_NEW_MESSAGE';
const FIX = `set ${SWITCH}=true in Evolution's environment and restart Evolution (messages received meanwhile were not stored and cannot be reconciled)`;

/** Reconciliation reads Evolution's message store, whose switch Evolution's API does not expose. */
export function messageStoreReminder(subject?: string, why = `whether ${SWITCH} is on cannot be read through Evolution's API`): CheckResult {
  return warn('evolution.message-store', `reconciliation reads Evolution's stored messages; ${why}`, `make sure Evolution's environment has ${SWITCH}=true`, subject);
}

/**
 * WhatsApp ids of the latest messages Evolution itself published to evosync (webhook or RabbitMQ,
 * not reconcile), old enough to be stored. Empty when the ledger cannot say; doctor never creates
 * a SQLite file.
 */
async function recentlyPublished(databaseUrl: string, instance: string, beforeMs: number): Promise<string[]> {
  let conn: Connection | null = null;
  try {
    const { dialect, target } = parseDatabaseUrl(databaseUrl);
    if (dialect === 'sqlite' && target !== ':memory:' && !existsSync(target)) return [];
    conn = await connect(databaseUrl, { exclusive: false, poolSize: 1 });
    const rows = await conn.db
      .selectFrom('messages')
      .select('wa_id')
      .where('instance', '=', instance)
      .where('direction', '=', 'to_chatwoot')
      .where('event', 'in', ['messages.upsert', 'send.message'])
      .where('source', '!=', 'reconcile')
      .where('received_at', '<=', beforeMs)
      .orderBy('id', 'desc')
      .limit(SAMPLE)
      .execute();
    return rows.map((r) => r.wa_id);
  } catch {
    return [];
  } finally {
    await conn?.close().catch(() => {});
  }
}

/**
 * Is `DATABASE_SAVE_DATA_NEW_MESSAGE` on? Evolution's API does not say, but its effect shows:
 * messages Evolution published to evosync are in its store (`/chat/findMessages` by key id) only
 * when the switch is on. One found is proof enough (a message can be missing for other reasons,
 * e.g. deleted with DATABASE_DELETE_MESSAGE=false); none of several is proof it is off.
 */
export async function checkMessageStore(client: EvolutionClient, instance: string, databaseUrl: string, nowMs: number): Promise<CheckResult> {
  const ids = await recentlyPublished(databaseUrl, instance, nowMs - SETTLE_MS);
  if (ids.length === 0) return messageStoreReminder(instance, `not confirmed yet: evosync has no message from Evolution for this instance to look for (run doctor again once messages flow)`);
  let found = 0;
  for (const id of ids) {
    const r = await client.http.request<{ messages?: { total?: unknown } } | null>({
      method: 'POST',
      path: `/chat/findMessages/${encodeURIComponent(instance)}`,
      json: { where: { key: { id } }, page: 1, offset: 1 },
    });
    if (!r.ok) return messageStoreReminder(instance, `cannot read Evolution's stored messages (${r.failure.message})`);
    if (typeof r.value?.messages?.total === 'number' && r.value.messages.total > 0) found += 1;
  }
  if (found > 0) return ok('evolution.message-store', `Evolution stores new messages (${found} of the ${ids.length} latest evosync received are in its store)`, instance);
  return fail(
    'evolution.message-store',
    `none of the ${ids.length} latest messages evosync received is in Evolution's message store: ${SWITCH} is off, so reconciliation cannot repair what the live path missed, and media cannot be fetched`,
    FIX,
    instance,
  );
}
