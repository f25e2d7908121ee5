import type { Selectable } from 'kysely';
import type { LaneItem } from '../domain/lane-item.js';
import type { Direction } from '../domain/message.js';
import type { LedgerMessage, MessageState } from './ledger.js';
import type { MessagesTable } from './schema.js';

type Row = Selectable<MessagesTable>;

/**
 * Every column of a message row, in the order SQLite's batches read it as an array: a row crosses
 * the writer thread's boundary as values only, without its twenty-odd column names (structured
 * clone copies every key of every object).
 */
export const MESSAGE_COLUMNS = [
  'id', 'instance', 'wa_id', 'chat', 'direction', 'from_me', 'wa_ts', 'source', 'event', 'payload', 'state', 'attempts', 'next_attempt_at',
  'maybe_sent', 'last_error', 'cw_conversation_id', 'cw_message_id', 'received_at', 'updated_at', 'delivered_at', 'sent_at', 'sent_wa_id', 'wa_status',
] as const satisfies readonly (keyof Row)[];

/** A column added to the schema must be added above too (a compile error until it is). */
const ALL_COLUMNS: Exclude<keyof Row, (typeof MESSAGE_COLUMNS)[number]> extends never ? true : never = true;
void ALL_COLUMNS;

/** A row read as an array in MESSAGE_COLUMNS order. */
export type RowValues = unknown[];

export function fromValues(v: RowValues): LedgerMessage {
  const r: Record<string, unknown> = {};
  for (let i = 0; i < MESSAGE_COLUMNS.length; i++) r[MESSAGE_COLUMNS[i] as string] = v[i];
  return fromRow(r as Row);
}

/** A row as the ledger's types read it, shared by both dialects' code paths. */
export function fromRow(r: Row): LedgerMessage {
  return {
    id: Number(r.id), instance: r.instance, waId: r.wa_id, chat: r.chat, direction: r.direction as Direction,
    fromMe: Number(r.from_me) === 1, waTs: Number(r.wa_ts), source: r.source, event: r.event,
    message: JSON.parse(r.payload) as LaneItem, state: r.state as MessageState, attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at), maybeSent: Number(r.maybe_sent) === 1, lastError: r.last_error,
    cwConversationId: r.cw_conversation_id == null ? null : Number(r.cw_conversation_id),
    cwMessageId: r.cw_message_id == null ? null : Number(r.cw_message_id),
    receivedAt: Number(r.received_at), deliveredAt: r.delivered_at == null ? null : Number(r.delivered_at),
    sentAt: r.sent_at == null ? null : Number(r.sent_at),
    sentWaId: r.sent_wa_id ?? null, waStatus: r.wa_status ?? null,
  };
}
