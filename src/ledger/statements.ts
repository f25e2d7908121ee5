import { CompiledQuery, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Dialect } from './connect.js';
import { LANE_LOOKAHEAD } from './lane-after.js';
import type { Database } from './schema.js';
import { MESSAGE_COLUMNS } from './rows.js';

/**
 * The statements on the per-message hot path, written once as SQL and compiled once per dialect.
 * Building them with the query builder on every call cost more CPU than running them; everything
 * else in the ledger stays on the builder, where clarity matters more than microseconds.
 */
const TEXT = {
  laneOwner: { sql: 'select lease_owner, lease_until from lanes where instance = ? and chat = ?', pgSuffix: ' for update' },
  markDelivered: {
    sql: "update messages set state = 'delivered', cw_message_id = ?, cw_conversation_id = ?, delivered_at = ?, sent_at = coalesce(sent_at, ?), updated_at = ?, maybe_sent = 0, last_error = null, attempts = attempts + 1 where id = ? and state = 'pending'",
    pgSuffix: '',
  },
  headPending: { sql: "select * from messages where instance = ? and chat = ? and state = 'pending' order by maybe_sent desc, wa_ts, id limit 1", pgSuffix: '' },
  // The lane's first rows (LANE_LOOKAHEAD), without their payloads: what the lane rules decide on.
  headsPending: { sql: `select id, state, direction, next_attempt_at from messages where instance = ? and chat = ? and state = 'pending' order by maybe_sent desc, wa_ts, id limit ${LANE_LOOKAHEAD}`, pgSuffix: '' },
  // Policy hold: a dead head blocks its lane too. Two ordered index scans, merged: with
  // `state in (...)` both engines read every row of the chat and sort them.
  headsHold: {
    sql: `select * from (
            select * from (select id, state, direction, next_attempt_at, maybe_sent, wa_ts from messages where instance = ? and chat = ? and state = 'pending' order by maybe_sent desc, wa_ts, id limit ${LANE_LOOKAHEAD}) p
            union all
            select * from (select id, state, direction, next_attempt_at, maybe_sent, wa_ts from messages where instance = ? and chat = ? and state = 'dead' order by maybe_sent desc, wa_ts, id limit ${LANE_LOOKAHEAD}) d
          ) h order by maybe_sent desc, wa_ts, id limit ${LANE_LOOKAHEAD}`,
    pgSuffix: '',
  },
  // Columns in a fixed order: SQLite's batches read the row as an array (see rows.ts fromValues).
  messageById: { sql: `select ${MESSAGE_COLUMNS.join(', ')} from messages where id = ?`, pgSuffix: '' },
  // A kept lane changes only what it has in flight: its lease is extended by the renewal timer and
  // its due time is rewritten when it is given back, so neither lane index is touched per message.
  keepLane: { sql: 'update lanes set inflight_id = ?, inflight_next_id = ?, suspect = 0 where instance = ? and chat = ?', pgSuffix: '' },
  releaseLane: { sql: 'update lanes set due_at = ?, lease_owner = null, lease_until = null, inflight_id = null, inflight_next_id = null, suspect = 0 where instance = ? and chat = ?', pgSuffix: '' },
  insertMessage: {
    sql: "insert into messages (instance, wa_id, chat, direction, from_me, wa_ts, source, event, payload, state, attempts, next_attempt_at, maybe_sent, received_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, ?, ?) on conflict (instance, wa_id) do nothing",
    pgSuffix: '',
  },
  upsertLane: {
    sql: 'insert into lanes (instance, chat, due_at, suspect) values (?, ?, ?, 0) on conflict (instance, chat) do update set due_at = coalesce(lanes.due_at, excluded.due_at)',
    pgSuffix: '',
  },
  markInflight: { sql: 'update lanes set inflight_id = ?, inflight_next_id = ? where instance = ? and chat = ? and lease_owner = ?', pgSuffix: '' },
} as const;

export type StatementName = keyof typeof TEXT;

export class Statements {
  readonly #text: Record<StatementName, string>;

  constructor(dialect: Dialect) {
    const entries = Object.entries(TEXT).map(([name, t]) => {
      let text: string = t.sql + (dialect === 'postgres' ? t.pgSuffix : '');
      if (dialect === 'postgres') {
        let n = 0;
        text = text.replace(/\?/g, () => `$${++n}`);
      }
      return [name, text];
    });
    this.#text = Object.fromEntries(entries) as Record<StatementName, string>;
  }

  /** The statement's text for this dialect (SQLite's synchronous batches prepare it themselves). */
  text(name: StatementName): string {
    return this.#text[name];
  }

  run<R>(db: Kysely<Database> | Transaction<Database>, name: StatementName, params: readonly unknown[]): Promise<QueryResult<R>> {
    return db.executeQuery<R>(CompiledQuery.raw(this.#text[name], [...params]));
  }
}
