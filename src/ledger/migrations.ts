import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import type { Dialect } from './connect.js';

/**
 * Append-only, numbered migrations, written once for both dialects: the only differences are the
 * auto-increment key and the integer width, so one list keeps the two schemas identical by
 * construction. Never edit a released migration; add the next number.
 */
export function migrationProvider(dialect: Dialect): MigrationProvider {
  const idColumn = (t: string) => (dialect === 'postgres' ? sql.raw(`${t} bigserial primary key`) : sql.raw(`${t} integer primary key autoincrement`));
  const big = dialect === 'postgres' ? 'bigint' : 'integer';

  const migrations: Record<string, Migration> = {
    '0001_init': {
      async up(db: Kysely<unknown>) {
        await sql`create table messages (
          ${idColumn('id')},
          instance text not null,
          wa_id text not null,
          chat text not null,
          direction text not null,
          from_me integer not null default 0,
          wa_ts ${sql.raw(big)} not null,
          source text not null,
          event text not null,
          payload text not null,
          state text not null default 'pending',
          attempts integer not null default 0,
          next_attempt_at ${sql.raw(big)} not null,
          maybe_sent integer not null default 0,
          last_error text,
          cw_conversation_id ${sql.raw(big)},
          cw_message_id ${sql.raw(big)},
          received_at ${sql.raw(big)} not null,
          updated_at ${sql.raw(big)} not null,
          delivered_at ${sql.raw(big)}
        )`.execute(db);
        await sql`create unique index messages_instance_wa_id on messages (instance, wa_id)`.execute(db);
        await sql`create index messages_lane on messages (instance, chat, state, wa_ts, id)`.execute(db);
        await sql`create index messages_state on messages (state, direction)`.execute(db);

        await sql`create table lanes (
          instance text not null,
          chat text not null,
          due_at ${sql.raw(big)},
          lease_owner text,
          lease_until ${sql.raw(big)},
          suspect integer not null default 0,
          primary key (instance, chat)
        )`.execute(db);
        await sql`create index lanes_due on lanes (due_at) where due_at is not null`.execute(db);
        await sql`create index lanes_leased on lanes (lease_until) where lease_owner is not null`.execute(db);

        await sql`create table refused (
          ${idColumn('id')},
          received_at ${sql.raw(big)} not null,
          source text not null,
          code text not null,
          reason text not null,
          instance text,
          event text,
          body text not null
        )`.execute(db);

        await sql`create table chat_links (
          instance text not null,
          chat text not null,
          account_id integer not null,
          inbox_id integer not null,
          contact_id ${sql.raw(big)} not null,
          contact_source_id text not null,
          conversation_id ${sql.raw(big)},
          conversation_checked_at ${sql.raw(big)},
          last_cw_message_id ${sql.raw(big)},
          updated_at ${sql.raw(big)} not null,
          primary key (instance, chat, account_id, inbox_id)
        )`.execute(db);

        await sql`create table instances (
          instance text primary key,
          state text not null,
          status_reason integer,
          updated_at ${sql.raw(big)} not null
        )`.execute(db);
      },
    },
    '0002_inflight_and_pinned_heads': {
      // A message that may already be in Chatwoot is settled before anything else in its chat:
      // the lane index orders pending messages by maybe_sent first. `inflight_id` names the message
      // a lane's owner is delivering, so a takeover knows exactly which one may have been sent.
      async up(db: Kysely<unknown>) {
        await sql`alter table lanes add column inflight_id ${sql.raw(big)}`.execute(db);
        await sql`drop index messages_lane`.execute(db);
        await sql`create index messages_lane_head on messages (instance, chat, state, maybe_sent desc, wa_ts, id)`.execute(db);
      },
    },
    '0003_reconcile_runs': {
      // Each reconciliation run is kept (instance, window, what it read and repaired), so an
      // operator can see that the gap-closing job runs and what it found.
      async up(db: Kysely<unknown>) {
        await sql`create table reconcile_runs (
          ${idColumn('id')},
          instance text not null,
          trigger text not null,
          window_from ${sql.raw(big)} not null,
          window_to ${sql.raw(big)} not null,
          chat text,
          pages integer not null,
          compared integer not null,
          missing integer not null,
          repaired integer not null,
          unusable integer not null,
          error text,
          started_at ${sql.raw(big)} not null,
          duration_ms ${sql.raw(big)} not null
        )`.execute(db);
        await sql`create index reconcile_runs_instance on reconcile_runs (instance, started_at)`.execute(db);
      },
    },
    '0004_agent_replies': {
      // Evolution's send has no idempotency key: the WhatsApp id a reply was sent as is written the
      // moment Evolution answers, so nothing can send it again. Unique, so one WhatsApp message can
      // never be claimed by two replies when a look-up matches by text. `wa_status` is the last
      // WhatsApp status passed on to Chatwoot, which never goes back.
      async up(db: Kysely<unknown>) {
        await sql`alter table messages add column sent_wa_id text`.execute(db);
        await sql`alter table messages add column wa_status text`.execute(db);
        await sql`create unique index messages_sent_wa_id on messages (instance, sent_wa_id) where sent_wa_id is not null`.execute(db);
        // A Chatwoot webhook names the conversation; the chat and instance are found from it.
        await sql`create index chat_links_conversation on chat_links (account_id, inbox_id, conversation_id)`.execute(db);
      },
    },
    '0005_identities': {
      // Which LID is which phone (see ledger/identities.ts). The phone is unique too: a pair is a
      // person, and a second LID claiming a known phone (a recycled number) must not merge two
      // people. Unfolded pairs are few and looked for on a timer, hence the partial index.
      async up(db: Kysely<unknown>) {
        await sql`create table identities (
          instance text not null,
          lid text not null,
          phone text not null,
          learned_at ${sql.raw(big)} not null,
          merged_at ${sql.raw(big)},
          primary key (instance, lid)
        )`.execute(db);
        await sql`create unique index identities_phone on identities (instance, phone)`.execute(db);
        await sql`create index identities_unmerged on identities (instance) where merged_at is null`.execute(db);
      },
    },
    '0006_dashboard_times': {
      // The dashboard charts the last hour from received_at and delivered_at, and trace finds a
      // message by its Chatwoot id: without these, each of those reads walks the whole table.
      // Covering indexes, so a chart is an index range scan; the delivered and Chatwoot ones are
      // partial, so ingest (every row starts undelivered) pays only for the received_at one.
      async up(db: Kysely<unknown>) {
        await sql`create index messages_received_at on messages (received_at, instance)`.execute(db);
        await sql`create index messages_delivered_at on messages (delivered_at, instance, received_at) where delivered_at is not null`.execute(db);
        await sql`create index messages_cw_message_id on messages (cw_message_id) where cw_message_id is not null`.execute(db);
      },
    },
    '0007_reconcile_agent_replies': {
      // A run also compares Chatwoot's agent replies with the ledger (Chatwoot → WhatsApp): what it
      // read and repaired in that direction is kept beside the WhatsApp → Chatwoot counts.
      async up(db: Kysely<unknown>) {
        for (const column of ['agent_conversations', 'agent_compared', 'agent_missing', 'agent_repaired']) {
          await sql`alter table reconcile_runs add column ${sql.raw(column)} integer not null default 0`.execute(db);
        }
      },
    },
    '0008_sent_at': {
      // When the delivery attempt began, beside when it ended: check and the verifier tell a
      // message that arrived while a newer one was already on its way (late) from a misordering.
      async up(db: Kysely<unknown>) {
        await sql`alter table messages add column sent_at ${sql.raw(big)}`.execute(db);
      },
    },
    '0009_inflight_next': {
      // A lane owner sends a chat's next message while the previous one's outcome is still being
      // committed (pipelining). The commit before names both, so a takeover knows every message
      // that may be on the other side without a recorded outcome.
      async up(db: Kysely<unknown>) {
        await sql`alter table lanes add column inflight_next_id ${sql.raw(big)}`.execute(db);
      },
    },
    '0010_state_received_at': {
      // The backlog's age (alerts, metrics) is the oldest pending message's arrival: with the
      // arrival time in the state index it is one seek per direction, where it read every pending
      // row before (0.6 s with a million queued, on the event loop).
      async up(db: Kysely<unknown>) {
        await sql`drop index messages_state`.execute(db);
        await sql`create index messages_state on messages (state, direction, received_at)`.execute(db);
      },
    },
  };
  return { getMigrations: async () => migrations };
}
