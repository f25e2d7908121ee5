import { type Transaction, sql } from 'kysely';
import type { Database } from './schema.js';

export interface LockedLane {
  instance: string;
  chat: string;
  lease_owner: string | null;
  lease_until: number | null;
}

/**
 * Locks the lanes of these (instance, chat) keys that exist, in the one global lane order every
 * PostgreSQL writer uses (ingest batches, outcome batches), so two of them touching the same lanes
 * wait for each other instead of deadlocking. Returns what a lane's lock guards: its lease.
 */
export async function lockLanesPg(trx: Transaction<Database>, keys: readonly { instance: string; chat: string }[]): Promise<LockedLane[]> {
  const { rows } = await sql<LockedLane>`
    select l.instance, l.chat, l.lease_owner, l.lease_until from lanes l
    join unnest(${keys.map((k) => k.instance)}::text[], ${keys.map((k) => k.chat)}::text[]) as v(instance, chat) on l.instance = v.instance and l.chat = v.chat
    order by l.instance, l.chat
    for update of l`.execute(trx);
  return rows;
}
