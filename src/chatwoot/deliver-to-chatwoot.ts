import type { ChatMessage } from '../domain/message.js';
import { mediaLabel } from '../evolution/content.js';
import type { LedgerMessage } from '../ledger/ledger.js';
import { type DeliveryRecorder, noMetrics } from '../metrics/recorders.js';
import type { ChatwootApi, NewCwMessage } from './api.js';
import type { ChatLinks } from './chat-links.js';
import { type Failure, mayHaveBeenApplied } from './classify.js';

export type DeliveryResult =
  | { kind: 'delivered'; cwMessageId: number; cwConversationId: number; recovered: boolean }
  | { kind: 'failed'; failure: Failure; maybeSent: boolean };

/** The `source_id` evosync gives a WhatsApp message in Chatwoot (Evolution's own convention). */
export const sourceIdOf = (waId: string): string => `WAID:${waId}`;

/**
 * Delivers one WhatsApp message into Chatwoot, effectively once. Chatwoot does not deduplicate on
 * `source_id`, so when an earlier attempt may have gone through (`maybeSent`: a timeout or reset
 * after sending, or a lane taken over from a process that died) the conversation is searched for
 * the message's `source_id` first; only if it is not there is the message created again.
 */
export class ChatwootDelivery {
  readonly #links: ChatLinks;
  readonly #lastDelivered: (instance: string, chat: string) => Promise<number | null>;
  readonly #metrics: Pick<DeliveryRecorder, 'lookup'>;
  /** Look-ups done before a retry, and how many found the message already there. */
  lookups = 0;
  recovered = 0;

  /**
   * `lastDelivered` gives the highest Chatwoot id *committed* as delivered in the chat: a look-up
   * must start below any message whose answer may have been lost, and an id only seen in memory
   * (its commit may have failed) could be exactly that message.
   */
  constructor(links: ChatLinks, lastDelivered: (instance: string, chat: string) => Promise<number | null>, metrics: Pick<DeliveryRecorder, 'lookup'> = noMetrics) {
    this.#links = links;
    this.#lastDelivered = lastDelivered;
    this.#metrics = metrics;
  }

  async deliver(api: ChatwootApi, row: LedgerMessage, msg: ChatMessage, opts: { suspect: boolean; signal?: AbortSignal }): Promise<DeliveryResult> {
    const link = await this.#links.resolve(api, msg);
    if (!link.ok) {
      if (link.failure.kind === 'not_found') this.#links.forget(msg.instance, msg.chat, api.target.accountId, api.target.inboxId);
      return { kind: 'failed', failure: link.failure, maybeSent: row.maybeSent };
    }
    const conversationId = link.value.conversationId as number;
    const sourceId = sourceIdOf(msg.waId);

    if (row.maybeSent || opts.suspect) {
      this.lookups += 1;
      const after = (await this.#lastDelivered(msg.instance, msg.chat)) ?? 0;
      const found = await this.#findBySourceId(api, conversationId, sourceId, after);
      if (!found.ok) return { kind: 'failed', failure: found.failure, maybeSent: true };
      this.#metrics.lookup(found.id !== null ? 'found' : 'not_found');
      if (found.id !== null) {
        this.recovered += 1;
        return { kind: 'delivered', cwMessageId: found.id, cwConversationId: conversationId, recovered: true };
      }
    }

    const created = await api.createMessage(conversationId, toCwMessage(msg, sourceId));
    if (created.ok) {
      return { kind: 'delivered', cwMessageId: created.value.id, cwConversationId: conversationId, recovered: false };
    }
    if (created.failure.kind === 'not_found') {
      this.#links.forget(msg.instance, msg.chat, api.target.accountId, api.target.inboxId);
    }
    return { kind: 'failed', failure: created.failure, maybeSent: row.maybeSent || mayHaveBeenApplied(created.failure) };
  }

  /** Pages forward through the conversation from the last message we know, comparing source ids. */
  async #findBySourceId(api: ChatwootApi, conversationId: number, sourceId: string, afterId: number): Promise<{ ok: true; id: number | null } | { ok: false; failure: Failure }> {
    let cursor = afterId;
    for (let page = 0; page < 1000; page++) {
      const r = await api.messagesAfter(conversationId, cursor);
      if (!r.ok) return r.failure.kind === 'not_found' ? { ok: true, id: null } : { ok: false, failure: r.failure };
      const hit = r.value.find((m) => m.source_id === sourceId);
      if (hit) return { ok: true, id: hit.id };
      if (r.value.length < 100) return { ok: true, id: null };
      cursor = Math.max(...r.value.map((m) => m.id));
    }
    return { ok: true, id: null };
  }
}

export function toCwMessage(msg: ChatMessage, sourceId: string): NewCwMessage {
  let text = msg.content.text;
  if (msg.content.media) text = text ? `${mediaLabel(msg.content.media)}\n${text}` : mediaLabel(msg.content.media);
  if (msg.isGroup && !msg.fromMe && msg.sender) {
    const who = [msg.sender.name, msg.sender.phone ? `+${msg.sender.phone}` : null].filter(Boolean).join(' · ');
    text = `**${who || msg.sender.jid}:**\n${text}`;
  }
  const attributes: Record<string, unknown> = { external_created_at: msg.timestamp };
  if (msg.content.quotedId) attributes['in_reply_to_external_id'] = sourceIdOf(msg.content.quotedId);
  if (msg.fromMe) attributes['external_echo'] = true;
  return {
    content: text,
    message_type: msg.fromMe ? 'outgoing' : 'incoming',
    private: false,
    source_id: sourceId,
    content_attributes: attributes,
  };
}
