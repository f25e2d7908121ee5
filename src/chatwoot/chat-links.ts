import type { ConversationPolicy } from '../config/config.js';
import type { ChatMessage } from '../domain/message.js';
import { isLid } from '../evolution/jid.js';
import type { Clock } from '../lib/clock.js';
import type { ChatLink, Ledger } from '../ledger/ledger.js';
import type { SharedLookups } from '../redis/shared-lookups.js';
import type { Result } from './http.js';
import type { ChatwootApi, CwContact, CwConversation } from './api.js';
import { brazilAlternate } from './brazil-phone.js';
import { filterContactsAny, setContactPhone } from './contact-ops.js';
import { setConversationStatus } from './conversation-ops.js';

/** Chatwoot's WhatsApp channel: a resolved conversation is left closed and a new one started. */
const DEFAULT_POLICY: ConversationPolicy = { reopen: false, status: 'open' };

/**
 * Finds or creates the Chatwoot contact and conversation of a WhatsApp chat, and remembers them:
 * in memory, and in the ledger so a restart does not cost a round of look-ups per chat.
 *
 * No lock is needed: a chat's messages are delivered by its lane, one at a time, so two resolutions
 * of one chat never race within a process (the reason Evolution's built-in integration creates
 * duplicate contacts and conversations under load). Across processes the lane lease does the same.
 */
export class ChatLinks {
  readonly #ledger: Ledger;
  readonly #clock: Clock;
  readonly #checkMs: number;
  readonly #policy: ConversationPolicy;
  readonly #memory = new Map<string, ChatLink>();
  /** Contacts created for a bare LID whose phone was since learned and written (once per process). */
  readonly #phoneSet = new Set<number>();
  /** Links found to point at something deleted in Chatwoot: resolved again from scratch. */
  readonly #stale = new Set<string>();
  /** Look-ups other processes of the cluster made (Redis), read before the ledger; null = none. */
  readonly #shared: SharedLookups | null;
  /** Chatwoot calls spent on resolution, for the calls-per-message figure. */
  calls = 0;

  constructor(ledger: Ledger, clock: Clock, conversationCheckMs: number, policy: ConversationPolicy = DEFAULT_POLICY, shared: SharedLookups | null = null) {
    this.#ledger = ledger;
    this.#clock = clock;
    this.#checkMs = conversationCheckMs;
    this.#policy = policy;
    this.#shared = shared;
  }

  /** Returns the link with a usable conversation id, creating whatever is missing. */
  async resolve(api: ChatwootApi, msg: ChatMessage): Promise<Result<ChatLink>> {
    const r = await this.#resolve(api, msg);
    if (!r.ok) return r;
    const filled = await this.#fillPhone(api, r.value, msg);
    return filled.ok ? r : filled;
  }

  async #resolve(api: ChatwootApi, msg: ChatMessage): Promise<Result<ChatLink>> {
    const { accountId, inboxId } = api.target;
    const key = `${msg.instance}\u0000${msg.chat}\u0000${accountId}\u0000${inboxId}`;
    let link = this.#stale.has(key) ? null : (this.#memory.get(key) ?? (await this.#stored(msg.instance, msg.chat, accountId, inboxId)));
    if (!link && !this.#stale.has(key)) link = await this.#linkOfOtherAddress(key, msg, accountId, inboxId);
    const now = this.#clock.now();

    if (link?.conversationId != null) {
      const fresh = link.conversationCheckedAt != null && now - link.conversationCheckedAt < this.#checkMs;
      if (fresh) {
        this.#memory.set(key, link);
        return { ok: true, status: 200, value: link };
      }
      // Re-check now and then: a conversation an agent resolved is not written into again, unless
      // the policy is to reopen it.
      this.calls += 1;
      const conv = await api.getConversation(link.conversationId);
      if (!conv.ok && conv.failure.kind !== 'not_found') return conv;
      if (conv.ok && (conv.value.status !== 'resolved' || this.#policy.reopen)) {
        const reopened = await this.#reopenIfResolved(api, conv.value);
        if (!reopened.ok) return reopened;
        link = { ...link, conversationCheckedAt: now };
        await this.#remember(key, link);
        return { ok: true, status: 200, value: link };
      }
      link = { ...link, conversationId: null };
    }

    if (!link) {
      const contact = await this.#findOrCreateContact(api, msg);
      if (!contact.ok) return contact;
      // Found under the person's LID with no phone: made by their LID lane a moment before its link
      // was stored (the two lanes of one person overlap while the pair is new), or by another
      // integration. The link made here is the phone chat's own, so `#fillPhone` would never
      // write the number: without this, the contact kept no phone for good.
      if (!contact.value.created && contact.value.contact.phone_number == null) {
        const filled = await this.#writePhone(api, contact.value.contact.id, msg);
        if (!filled.ok) return filled;
      }
      link = {
        instance: msg.instance, chat: msg.chat, accountId, inboxId, contactId: contact.value.contact.id,
        contactSourceId: msg.chat, conversationId: null, conversationCheckedAt: null,
      };
      if (contact.value.created) return this.#createConversation(api, key, link);
    }
    return this.#findOrCreateConversation(api, key, link);
  }

  /** Forget a link whose conversation or contact was deleted: the next resolve starts afresh. */
  forget(instance: string, chat: string, accountId: number, inboxId: number): void {
    const key = `${instance}\u0000${chat}\u0000${accountId}\u0000${inboxId}`;
    this.#memory.delete(key);
    this.#stale.add(key);
    void this.#shared?.forgetLink(instance, chat, accountId, inboxId);
  }

  /** The shared cache first (another process may have resolved this chat), then the ledger. */
  async #stored(instance: string, chat: string, accountId: number, inboxId: number): Promise<ChatLink | null> {
    const cached = await this.#shared?.getLink(instance, chat, accountId, inboxId);
    if (cached) return cached;
    const link = await this.#ledger.getChatLink(instance, chat, accountId, inboxId);
    if (link) await this.#shared?.saveLink(link);
    return link;
  }

  async #pairOf(instance: string, jid: string): Promise<{ lid: string; phoneJid: string } | null> {
    const cached = await this.#shared?.getPair(instance, jid);
    if (cached) return cached;
    const pair = await this.#ledger.identityOf(instance, jid);
    if (pair) await this.#shared?.savePair(instance, pair);
    return pair;
  }

  async #findOrCreateConversation(api: ChatwootApi, key: string, link: ChatLink): Promise<Result<ChatLink>> {
    this.calls += 1;
    const list = await api.contactConversations(link.contactId);
    if (!list.ok && list.failure.kind !== 'not_found') return list;
    // The last non-resolved conversation of this contact in our inbox, as Chatwoot's own WhatsApp
    // channel does. Conversations started by another integration (a random contact-inbox source
    // id) count too, which keeps history together when migrating from the built-in integration.
    // With the reopen policy, the last conversation whatever its status (reopened below).
    const open = (list.ok ? list.value : [])
      .filter((c) => c.inbox_id === api.target.inboxId && (this.#policy.reopen || c.status !== 'resolved'))
      .sort((a, b) => b.id - a.id)[0];
    if (open) {
      const reopened = await this.#reopenIfResolved(api, open);
      if (!reopened.ok) return reopened;
      const next = { ...link, conversationId: open.id, conversationCheckedAt: this.#clock.now() };
      await this.#remember(key, next);
      return { ok: true, status: 200, value: next };
    }
    return this.#createConversation(api, key, link);
  }

  async #createConversation(api: ChatwootApi, key: string, link: ChatLink): Promise<Result<ChatLink>> {
    this.calls += 1;
    const created = await api.createConversation({ inbox_id: api.target.inboxId, contact_id: link.contactId, source_id: link.contactSourceId, status: this.#policy.status });
    if (!created.ok) return created;
    const next = { ...link, conversationId: created.value.id, conversationCheckedAt: this.#clock.now() };
    await this.#remember(key, next);
    return { ok: true, status: 200, value: next };
  }

  async #findOrCreateContact(api: ChatwootApi, msg: ChatMessage): Promise<Result<{ contact: CwContact; created: boolean }>> {
    const found = await this.#findContact(api, msg, false);
    if (!found.ok) return found;
    if (found.value) return { ok: true, status: 200, value: { contact: found.value, created: false } };

    this.calls += 1;
    const phone = e164(msg.chatPhone);
    const created = await api.createContact({
      inbox_id: api.target.inboxId,
      source_id: msg.chat,
      name: contactName(msg),
      identifier: msg.chat,
      ...(phone ? { phone_number: phone } : {}),
    });
    if (created.ok) return { ok: true, status: 200, value: { contact: created.value, created: true } };
    // "has already been taken": another writer (or an earlier attempt of ours whose answer was
    // lost) created it; look it up again and use it.
    if (created.failure.kind === 'rejected' && /already been taken/i.test(created.failure.message)) {
      const again = await this.#findContact(api, msg, true);
      if (!again.ok) return again;
      if (again.value) return { ok: true, status: 200, value: { contact: again.value, created: false } };
    }
    return created.ok ? { ok: false, failure: { kind: 'rejected', status: null, message: 'unreachable' } } : created;
  }

  /**
   * Exact look-up by phone when the chat has one (a Brazilian mobile under both its forms, with
   * and without the ninth digit, in one request; the form WhatsApp uses is preferred), else by
   * identifier: the chat's JID and, when known, its LID (a contact another integration, or
   * evosync before the phone was known, created under the LID). `thorough` also tries the
   * identifiers for phone chats: after a 422, the clash may be on either.
   */
  async #findContact(api: ChatwootApi, msg: ChatMessage, thorough: boolean): Promise<Result<CwContact | null>> {
    const phone = e164(msg.chatPhone);
    if (phone) {
      const alternate = e164(brazilAlternate(msg.chatPhone ?? ''));
      const phones = alternate ? [phone, alternate] : [phone];
      this.calls += 1;
      const byPhone = await filterContactsAny(api, 'phone_number', phones);
      if (!byPhone.ok) return byPhone;
      const exact = phones.map((p) => byPhone.value.find((c) => c.phone_number === p)).find((c) => c !== undefined);
      if (exact) return { ok: true, status: 200, value: exact };
      if (!thorough && !msg.chatLid) return { ok: true, status: 200, value: null };
    }
    const identifiers = [...new Set([...(phone && !thorough ? [] : [msg.chat]), ...(msg.chatLid ? [msg.chatLid] : [])])];
    if (identifiers.length === 0) return { ok: true, status: 200, value: null };
    this.calls += 1;
    const byId = await filterContactsAny(api, 'identifier', identifiers);
    if (!byId.ok) return byId;
    const hit = identifiers.map((id) => byId.value.find((c) => c.identifier === id)).find((c) => c !== undefined);
    return { ok: true, status: 200, value: hit ?? null };
  }

  /**
   * A chat without a link of its own may be a person known under their other address: a LID chat
   * whose lane is being folded into the phone's, or a phone chat first seen by LID. Their link is
   * theirs: adopted under this chat, so one person stays one contact and one conversation.
   */
  async #linkOfOtherAddress(key: string, msg: ChatMessage, accountId: number, inboxId: number): Promise<ChatLink | null> {
    const pair = msg.chatLid && !isLid(msg.chat) ? { lid: msg.chatLid, phoneJid: msg.chat } : await this.#pairOf(msg.instance, msg.chat);
    if (!pair) return null;
    const other = pair.lid === msg.chat ? pair.phoneJid : pair.lid;
    const found = await this.#stored(msg.instance, other, accountId, inboxId);
    if (!found) return null;
    const adopted = { ...found, chat: msg.chat };
    await this.#remember(key, adopted);
    return adopted;
  }

  /** With the reopen policy, a resolved conversation is set to the configured status before use. */
  async #reopenIfResolved(api: ChatwootApi, conv: CwConversation): Promise<Result<unknown>> {
    if (conv.status !== 'resolved') return { ok: true, status: 200, value: null };
    this.calls += 1;
    return setConversationStatus(api, conv.id, this.#policy.status);
  }

  /**
   * A contact created while only the LID was known has no phone: once an event names it, it is
   * written on the contact, so agents see the number and phone look-ups find the contact. Once per
   * process; a 422 means another contact has that phone (merge is the agent's call). A transient
   * failure (5xx, reset, outage) fails the message's attempt instead, before it is created: as a
   * fire-and-forget call it left the contact without its number for good whenever it was the
   * chat's last message, or the process never saw another.
   */
  async #fillPhone(api: ChatwootApi, link: ChatLink, msg: ChatMessage): Promise<Result<unknown>> {
    if (!isLid(link.contactSourceId) || this.#phoneSet.has(link.contactId)) return DONE;
    return this.#writePhone(api, link.contactId, msg);
  }

  async #writePhone(api: ChatwootApi, contactId: number, msg: ChatMessage): Promise<Result<unknown>> {
    const phone = e164(msg.chatPhone);
    if (!phone) return DONE;
    this.calls += 1;
    const r = await setContactPhone(api, contactId, phone);
    if (!r.ok && r.failure.kind !== 'rejected' && r.failure.kind !== 'not_found') return r;
    this.#phoneSet.add(contactId);
    return DONE;
  }

  async #remember(key: string, link: ChatLink): Promise<void> {
    this.#stale.delete(key);
    this.#memory.set(key, link);
    // The ledger first: it is the truth the cache is rebuilt from.
    await this.#ledger.saveChatLink(link, this.#clock.now());
    await this.#shared?.saveLink(link);
  }
}

const DONE = { ok: true, status: 200, value: null } as const;

/** Chatwoot accepts `+` and 2–15 digits; anything else would be refused with a 422. */
export function e164(digits: string | null): string | null {
  return digits && /^[1-9]\d{1,14}$/.test(digits) ? `+${digits}` : null;
}

function contactName(msg: ChatMessage): string {
  if (msg.isGroup) return `WhatsApp group ${msg.chat.split('@')[0] ?? msg.chat}`;
  if (!msg.fromMe && msg.pushName) return msg.pushName;
  return msg.chatPhone ? `+${msg.chatPhone}` : (msg.chat.split('@')[0] ?? msg.chat);
}
