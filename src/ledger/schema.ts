import type { Generated } from 'kysely';

/**
 * Ledger tables. The same schema on SQLite and PostgreSQL: times are epoch milliseconds in
 * integers and flags are 0/1 integers, so both dialects store and compare them identically.
 */
export interface MessagesTable {
  id: Generated<number>;
  instance: string;
  /** WhatsApp message id; unique per instance. */
  wa_id: string;
  /** Canonical chat JID: the lane key together with the instance. */
  chat: string;
  direction: string;
  from_me: number;
  /** WhatsApp timestamp, epoch seconds: the lane order, then `id` (arrival). */
  wa_ts: number;
  source: string;
  event: string;
  payload: string;
  /** pending | delivered | skipped | dead */
  state: string;
  attempts: number;
  next_attempt_at: number;
  /** 1 when an earlier attempt may have reached the other side: the next one looks it up first. */
  maybe_sent: number;
  last_error: string | null;
  cw_conversation_id: number | null;
  cw_message_id: number | null;
  received_at: number;
  updated_at: number;
  delivered_at: number | null;
  sent_at: number | null;
  /** Agent replies: the WhatsApp id Evolution sent it as (0004). */
  sent_wa_id: string | null;
  /** Last WhatsApp status passed on to Chatwoot: sent | delivered | read | failed (0004). */
  wa_status: string | null;
}

export interface LanesTable {
  instance: string;
  chat: string;
  /** When the lane's head may next be attempted; null = nothing to do. */
  due_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  /** Set when a lease was taken from a process that died: its head may have been sent. */
  suspect: number;
  /** The message the lease owner is delivering now (null between messages). */
  inflight_id: number | null;
  /** The message the owner may send right after `inflight_id`, before that one's outcome commits (0009). */
  inflight_next_id: number | null;
}

export interface RefusedTable {
  id: Generated<number>;
  received_at: number;
  source: string;
  code: string;
  reason: string;
  instance: string | null;
  event: string | null;
  body: string;
}

export interface ChatLinksTable {
  instance: string;
  chat: string;
  account_id: number;
  inbox_id: number;
  contact_id: number;
  contact_source_id: string;
  conversation_id: number | null;
  conversation_checked_at: number | null;
  /** Unused since look-ups start from the last *committed* delivery (messages table); kept, migrations are append-only. */
  last_cw_message_id: number | null;
  updated_at: number;
}

export interface InstancesTable {
  instance: string;
  state: string;
  status_reason: number | null;
  updated_at: number;
}

export interface ReconcileRunsTable {
  id: Generated<number>;
  instance: string;
  trigger: string;
  window_from: number;
  window_to: number;
  chat: string | null;
  pages: number;
  compared: number;
  missing: number;
  repaired: number;
  unusable: number;
  agent_conversations: Generated<number>;
  agent_compared: Generated<number>;
  agent_missing: Generated<number>;
  agent_repaired: Generated<number>;
  error: string | null;
  started_at: number;
  duration_ms: number;
}

/** LID ↔ phone pairs, per instance (0005): one row per LID; a phone belongs to one LID. */
export interface IdentitiesTable {
  instance: string;
  lid: string;
  /** The phone JID, `<digits>@s.whatsapp.net`. */
  phone: string;
  learned_at: number;
  /** When the LID's lane and links were folded into the phone's; null while a lease holds it up. */
  merged_at: number | null;
}

export interface Database {
  messages: MessagesTable;
  lanes: LanesTable;
  refused: RefusedTable;
  chat_links: ChatLinksTable;
  instances: InstancesTable;
  reconcile_runs: ReconcileRunsTable;
  identities: IdentitiesTable;
}
