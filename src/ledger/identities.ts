import { type Kysely, type Transaction, sql } from 'kysely';
import { laneKeyOf, type LaneKeyLookup } from '../identity/canonical-chat.js';
import { type IdentityPair, pairsOf } from '../identity/pairs.js';
import { isMessageEvent } from '../domain/wa-events.js';
import { isLid, phoneDigits } from '../evolution/jid.js';
import type { Dialect } from './connect.js';
import type { IdentityRecord, LearnResult, NewMessage } from './ledger.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * The identity table (migration 0005): which LID is which phone, per instance, learned from every
 * event that carries both. It decides lanes at ingest, inside the transaction that stores the
 * items, so an item and the fact it proves are committed together and no item is filed under a
 * key the ledger is about to retire.
 *
 * Merging. While a person is known only by LID, their chat is keyed by the LID. When a pair is
 * learned, the phone becomes the key and the LID lane is folded into the phone lane: its messages
 * (every state, so look-ups and "last delivered" stay per chat) and its Chatwoot link move over,
 * so the next message goes to the same contact and conversation. The fold waits while the LID lane
 * is leased: a worker may be sending its head right now, and moving that row would let a second
 * worker send it again from the phone lane. Until then, new items already go to the phone lane
 * (chat links fall back to the LID's link, so nothing forks in Chatwoot), and the fold is retried
 * by later events and by `mergePending`. Messages moved into the phone lane take their place by
 * WhatsApp time; one already being delivered there finishes first, like any late repair.
 */
export class Identities {
  readonly #dialect: Dialect;
  /** Pairs whose fold is done, by `instance\0lid`: facts that never change, so safe to keep. */
  readonly #settled = new Map<string, string>();

  constructor(dialect: Dialect) {
    this.#dialect = dialect;
  }

  /**
   * Learns the pairs the rows prove and gives each row its lane key. Runs inside the insert
   * transaction; `afterCommit` must be called once it committed (the memory cache only holds what
   * is durable: a rolled-back fold must be tried again).
   */
  async prepare(trx: Transaction<Database>, rows: NewMessage[], nowMs: number): Promise<{ rows: NewMessage[]; afterCommit: () => void }> {
    if (!this.needsLookup(rows)) return { rows, afterCommit: () => {} };
    const settledNow: [string, string][] = [];
    const todo = new Map<string, { instance: string; pair: IdentityPair }>();
    for (const r of rows) {
      for (const p of pairsOf(r.message)) {
        const k = `${r.message.instance}\u0000${p.lid}`;
        if (this.#settled.get(k) === p.phoneJid || todo.has(k)) continue;
        todo.set(k, { instance: r.message.instance, pair: p });
      }
    }
    // Pairs another process (or an earlier batch) already learned and folded: one read for the
    // batch instead of a write and a read per pair, which would also queue behind that process.
    for (const [instance, lids] of groupBy([...todo.values()], (t) => t.instance, (t) => t.pair.lid)) {
      const known = await trx.selectFrom('identities').select(['lid', 'phone', 'merged_at']).where('instance', '=', instance).where('lid', 'in', lids).execute();
      for (const row of known) {
        const k = `${instance}\u0000${row.lid}`;
        if (row.merged_at == null || todo.get(k)?.pair.phoneJid !== row.phone) continue;
        todo.delete(k);
        settledNow.push([k, row.phone]);
      }
    }
    // In one global order: several processes ingesting overlapping pairs (PostgreSQL) then wait
    // for each other on the identities index instead of deadlocking.
    for (const k of [...todo.keys()].sort()) {
      const { instance, pair } = todo.get(k)!;
      const result = await this.learn(trx, instance, pair, nowMs);
      if (result === 'learned' || result === 'known') settledNow.push([k, pair.phoneJid]);
    }
    const lookup = await this.#preloaded(trx, rows);
    const out: NewMessage[] = [];
    for (const r of rows) {
      const message = await laneKeyOf(r.message, lookup);
      out.push(message === r.message ? r : { ...r, message });
    }
    return { rows: out, afterCommit: () => settledNow.forEach(([k, v]) => this.#settled.set(k, v)) };
  }

  /**
   * Whether any row needs the identity table: a pair not yet settled, a LID-keyed chat, or an
   * event about another message. Most batches (phone chats, known pairs) need nothing.
   */
  needsLookup(rows: NewMessage[]): boolean {
    return rows.some((r) => {
      const m = r.message;
      if (isMessageEvent(m) || isLid(m.chat)) return true;
      return pairsOf(m).some((p) => this.#settled.get(`${m.instance}\u0000${p.lid}`) !== p.phoneJid);
    });
  }

  /**
   * Records a pair and folds the LID's lane into the phone's. 'deferred': recorded, fold still to
   * do; 'conflict': the LID or the phone is already paired otherwise (a recycled number), kept as is.
   */
  async learn(trx: Transaction<Database>, instance: string, pair: IdentityPair, nowMs: number): Promise<LearnResult> {
    const inserted = await trx
      .insertInto('identities')
      .values({ instance, lid: pair.lid, phone: pair.phoneJid, learned_at: nowMs, merged_at: null })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    const row = await trx.selectFrom('identities').selectAll().where('instance', '=', instance).where('lid', '=', pair.lid).executeTakeFirst();
    if (!row || row.phone !== pair.phoneJid) return 'conflict';
    if (row.merged_at != null) return 'known';
    if (!(await this.#fold(trx, instance, pair, nowMs))) return 'deferred';
    return Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0 ? 'learned' : 'known';
  }

  /** Retries folds that had to wait for a lease; returns how many completed. */
  async mergePending(db: Kysely<Database>, nowMs: number, limit = 100): Promise<number> {
    const pending = await db.selectFrom('identities').select(['instance', 'lid', 'phone']).where('merged_at', 'is', null).limit(limit).execute();
    let done = 0;
    for (const p of pending) {
      const ok = await db.transaction().execute((trx) => this.#fold(trx, p.instance, { lid: p.lid, phoneJid: p.phone }, nowMs));
      if (ok) {
        done += 1;
        this.#settled.set(`${p.instance}\u0000${p.lid}`, p.phone);
      }
    }
    return done;
  }

  async identityOf(db: Db, instance: string, jid: string): Promise<IdentityRecord | null> {
    const r = await db
      .selectFrom('identities')
      .selectAll()
      .where('instance', '=', instance)
      .where((eb) => eb.or([eb('lid', '=', jid), eb('phone', '=', jid)]))
      .executeTakeFirst();
    return r ? toRecord(r) : null;
  }

  async list(db: Db, instance: string): Promise<IdentityRecord[]> {
    const rows = await db.selectFrom('identities').selectAll().where('instance', '=', instance).orderBy('learned_at').orderBy('lid').execute();
    return rows.map(toRecord);
  }

  /**
   * The batch's identity look-ups read in one query per instance (every chat JID of the batch and
   * of its pairs) rather than one per row; anything not preloaded falls back to a query.
   */
  async #preloaded(trx: Transaction<Database>, rows: NewMessage[]): Promise<LaneKeyLookup> {
    const base = this.#lookup(trx);
    const jids = new Map<string, Set<string>>();
    for (const r of rows) {
      const set = jids.get(r.message.instance) ?? new Set<string>();
      set.add(r.message.chat);
      for (const p of pairsOf(r.message)) {
        set.add(p.lid);
        set.add(p.phoneJid);
      }
      jids.set(r.message.instance, set);
    }
    const byLid = new Map<string, string>();
    const unfoldedByPhone = new Map<string, string>();
    for (const [instance, set] of jids) {
      const list = [...set];
      const found = await trx
        .selectFrom('identities')
        .select(['lid', 'phone', 'merged_at'])
        .where('instance', '=', instance)
        .where((eb) => eb.or([eb('lid', 'in', list), eb('phone', 'in', list)]))
        .execute();
      for (const f of found) {
        byLid.set(`${instance}\u0000${f.lid}`, f.phone);
        if (f.merged_at == null && !unfoldedByPhone.has(`${instance}\u0000${f.phone}`)) unfoldedByPhone.set(`${instance}\u0000${f.phone}`, f.lid);
      }
    }
    const loaded = (instance: string, jid: string) => jids.get(instance)?.has(jid) ?? false;
    return {
      phoneForLid: (instance, lid) => (loaded(instance, lid) ? Promise.resolve(this.#settled.get(`${instance}\u0000${lid}`) ?? byLid.get(`${instance}\u0000${lid}`) ?? null) : base.phoneForLid(instance, lid)),
      chatOfMessage: base.chatOfMessage,
      unfoldedLidOf: (instance, phoneJid) => (loaded(instance, phoneJid) ? Promise.resolve(unfoldedByPhone.get(`${instance}\u0000${phoneJid}`) ?? null) : base.unfoldedLidOf(instance, phoneJid)),
    };
  }

  #lookup(trx: Transaction<Database>): LaneKeyLookup {
    return {
      phoneForLid: async (instance, lid) => {
        const cached = this.#settled.get(`${instance}\u0000${lid}`);
        if (cached) return cached;
        const r = await trx.selectFrom('identities').select('phone').where('instance', '=', instance).where('lid', '=', lid).executeTakeFirst();
        return r?.phone ?? null;
      },
      chatOfMessage: async (instance, waId) => {
        const r = await trx.selectFrom('messages').select('chat').where('instance', '=', instance).where('wa_id', '=', waId).executeTakeFirst();
        return r?.chat ?? null;
      },
      unfoldedLidOf: async (instance, phoneJid) => {
        const r = await trx.selectFrom('identities').select('lid').where('instance', '=', instance).where('phone', '=', phoneJid).where('merged_at', 'is', null).executeTakeFirst();
        return r?.lid ?? null;
      },
    };
  }

  /** Moves the LID lane, its messages and its Chatwoot links to the phone; false when it must wait. */
  async #fold(trx: Transaction<Database>, instance: string, pair: IdentityPair, nowMs: number): Promise<boolean> {
    const { lid, phoneJid: phone } = pair;
    if (this.#dialect === 'postgres') {
      // Both lanes locked, in the global lane order, before either is read: a completion or an
      // ingest on either lane waits for the fold instead of seeing it half done.
      await sql`select 1 from lanes where instance = ${instance} and chat in (${lid}, ${phone}) order by chat for update`.execute(trx);
    }
    const laneL = await trx.selectFrom('lanes').selectAll().where('instance', '=', instance).where('chat', '=', lid).executeTakeFirst();
    if (laneL?.lease_owner != null) return false;

    const links = await trx.selectFrom('chat_links').selectAll().where('instance', '=', instance).where('chat', 'in', [lid, phone]).execute();
    const plan: { keep: 'lid' | 'phone'; accountId: number; inboxId: number }[] = [];
    for (const l of links.filter((x) => x.chat === lid)) {
      const p = links.find((x) => x.chat === phone && Number(x.account_id) === Number(l.account_id) && Number(x.inbox_id) === Number(l.inbox_id));
      // Both known: the one used last is the conversation the customer is in now.
      const keep = !p || Number(l.updated_at) > Number(p.updated_at) ? 'lid' : 'phone';
      plan.push({ keep, accountId: Number(l.account_id), inboxId: Number(l.inbox_id) });
    }
    if (plan.some((p) => p.keep === 'phone')) {
      // A message of the LID lane that may already be in Chatwoot is looked up in the conversation
      // of its lane's link: with the LID's link dropped it would be looked for in the wrong place.
      const maybeSent = await trx.selectFrom('messages').select('id').where('instance', '=', instance).where('chat', '=', lid).where('state', '=', 'pending').where('maybe_sent', '=', 1).executeTakeFirst();
      if (maybeSent) return false;
    }

    const digits = phoneDigits(phone);
    const payload =
      this.#dialect === 'postgres'
        ? sql<string>`(payload::jsonb || jsonb_build_object('chat', ${phone}::text, 'chatPhone', ${digits}::text))::text`
        : sql<string>`json_set(payload, '$.chat', ${phone}, '$.chatPhone', ${digits})`;
    await trx.updateTable('messages').set({ chat: phone, payload, updated_at: nowMs }).where('instance', '=', instance).where('chat', '=', lid).execute();

    if (laneL) {
      const laneP = await trx.selectFrom('lanes').selectAll().where('instance', '=', instance).where('chat', '=', phone).executeTakeFirst();
      if (laneP) {
        const dues = [laneP.due_at, laneL.due_at].filter((d): d is number => d != null).map(Number);
        await trx
          .updateTable('lanes')
          .set({ due_at: dues.length > 0 ? Math.min(...dues) : null, suspect: Math.max(Number(laneP.suspect), Number(laneL.suspect)) })
          .where('instance', '=', instance)
          .where('chat', '=', phone)
          .execute();
      } else {
        await trx.insertInto('lanes').values({ instance, chat: phone, due_at: laneL.due_at, suspect: laneL.suspect, lease_owner: null, lease_until: null, inflight_id: null, inflight_next_id: null }).execute();
      }
      await trx.deleteFrom('lanes').where('instance', '=', instance).where('chat', '=', lid).execute();
    }

    for (const p of plan) {
      const scope = (q: 'lid' | 'phone') =>
        trx.deleteFrom('chat_links').where('instance', '=', instance).where('chat', '=', q === 'lid' ? lid : phone).where('account_id', '=', p.accountId).where('inbox_id', '=', p.inboxId);
      if (p.keep === 'lid') {
        await scope('phone').execute();
        await trx.updateTable('chat_links').set({ chat: phone }).where('instance', '=', instance).where('chat', '=', lid).where('account_id', '=', p.accountId).where('inbox_id', '=', p.inboxId).execute();
      } else {
        await scope('lid').execute();
      }
    }
    await trx.updateTable('identities').set({ merged_at: nowMs }).where('instance', '=', instance).where('lid', '=', lid).execute();
    return true;
  }
}

function toRecord(r: { instance: string; lid: string; phone: string; learned_at: number; merged_at: number | null }): IdentityRecord {
  return { instance: r.instance, lid: r.lid, phoneJid: r.phone, learnedAt: Number(r.learned_at), mergedAt: r.merged_at == null ? null : Number(r.merged_at) };
}

function groupBy<T>(items: T[], key: (t: T) => string, value: (t: T) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const it of items) out.set(key(it), [...(out.get(key(it)) ?? []), value(it)]);
  return out;
}
