import type { ChatMessage } from '../domain/message.js';
import { mediaLabel } from '../evolution/content.js';
import { WHATSAPP_MAX_MEDIA_BYTES } from '../evolution/media-limits.js';
import { type MediaFile, type MediaSource, resolveMedia } from '../evolution/media-resolve.js';
import type { LedgerMessage } from '../ledger/ledger.js';
import { type DeliveryRecorder, noMetrics } from '../metrics/recorders.js';
import type { ChatwootApi, NewCwMessage } from './api.js';
import type { ChatLinks } from './chat-links.js';
import { type Failure, mayHaveBeenApplied } from './classify.js';

export type DeliveryResult =
  | { kind: 'delivered'; cwMessageId: number; cwConversationId: number; recovered: boolean; mediaUnavailable?: string }
  /** `upstream: 'evolution'`: fetching the media failed; nothing was sent to Chatwoot. */
  | { kind: 'failed'; failure: Failure; maybeSent: boolean; upstream?: 'evolution' };

export interface DeliveryOptions {
  /** Where media files come from; without it nothing is fetched (inline copies still attach). */
  media?: MediaSource;
  /**
   * The Chatwoot id of a message already delivered, by WhatsApp id. A quote of an agent's message
   * needs it: those Chatwoot rows have no source_id for `in_reply_to_external_id` to find.
   */
  cwMessageIdOf?: (instance: string, waId: string) => Promise<number | null>;
}

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
  readonly #media: MediaSource;
  readonly #cwMessageIdOf: DeliveryOptions['cwMessageIdOf'];
  /** Look-ups done before a retry, and how many found the message already there. */
  lookups = 0;
  recovered = 0;
  /** Media files uploaded, and media messages delivered with a placeholder instead. */
  mediaAttached = 0;
  mediaUnavailable = 0;

  /**
   * `lastDelivered` gives the highest Chatwoot id *committed* as delivered in the chat: a look-up
   * must start below any message whose answer may have been lost, and an id only seen in memory
   * (its commit may have failed) could be exactly that message.
   */
  constructor(links: ChatLinks, lastDelivered: (instance: string, chat: string) => Promise<number | null>, metrics: Pick<DeliveryRecorder, 'lookup'> = noMetrics, opts: DeliveryOptions = {}) {
    this.#links = links;
    this.#lastDelivered = lastDelivered;
    this.#metrics = metrics;
    this.#media = opts.media ?? { maxBytes: WHATSAPP_MAX_MEDIA_BYTES, fetch: null };
    this.#cwMessageIdOf = opts.cwMessageIdOf;
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

    // Only once the look-up has not found it: a file already in Chatwoot is not fetched again.
    let file: MediaFile | null = null;
    let unavailable: string | null = null;
    if (msg.content.media) {
      const m = await resolveMedia(msg, msg.content.media, row.attempts, this.#media, opts.signal);
      if (m.kind === 'retry') return { kind: 'failed', failure: m.failure, maybeSent: row.maybeSent, upstream: 'evolution' };
      if (m.kind === 'attach') file = m.file;
      else unavailable = m.reason;
    }
    const inReplyTo = msg.content.quotedId && this.#cwMessageIdOf ? await this.#cwMessageIdOf(msg.instance, msg.content.quotedId) : null;

    const body = toCwMessage(msg, sourceId, { attached: file !== null, unavailable, inReplyTo });
    const created = await api.createMessage(conversationId, body, file ? [file] : []);
    if (created.ok) {
      if (file) this.mediaAttached += 1;
      if (unavailable !== null) this.mediaUnavailable += 1;
      return { kind: 'delivered', cwMessageId: created.value.id, cwConversationId: conversationId, recovered: false, ...(unavailable !== null ? { mediaUnavailable: unavailable } : {}) };
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

export interface CwMessageExtras {
  /** The media file goes along as an attachment: the content is only the caption. */
  attached?: boolean;
  /** Why the media file is not attached; said in the content beside the file's label. */
  unavailable?: string | null;
  /** Chatwoot id of the quoted message, when the ledger knows it. */
  inReplyTo?: number | null;
}

export function toCwMessage(msg: ChatMessage, sourceId: string, extras: CwMessageExtras = {}): NewCwMessage {
  let text = msg.content.text;
  const media = msg.content.media;
  if (media && !extras.attached) {
    const label = extras.unavailable ? `${mediaLabel(media)} ⚠️ media not available: ${extras.unavailable}` : mediaLabel(media);
    text = text ? `${label}\n${text}` : label;
  }
  if (msg.isGroup && !msg.fromMe && msg.sender) {
    const who = [msg.sender.name, msg.sender.phone ? `+${msg.sender.phone}` : null].filter(Boolean).join(' · ');
    text = text ? `**${who || msg.sender.jid}:**\n${text}` : `**${who || msg.sender.jid}:**`;
  }
  const attributes: Record<string, unknown> = { external_created_at: msg.timestamp };
  // Chatwoot resolves in_reply_to (an id) first, else in_reply_to_external_id (a source_id), both
  // within the conversation; a miss nulls both, so the id is only sent when it is known.
  if (msg.content.quotedId) {
    if (extras.inReplyTo) attributes['in_reply_to'] = extras.inReplyTo;
    attributes['in_reply_to_external_id'] = sourceIdOf(msg.content.quotedId);
  }
  if (msg.fromMe) attributes['external_echo'] = true;
  return {
    content: text,
    message_type: msg.fromMe ? 'outgoing' : 'incoming',
    private: false,
    source_id: sourceId,
    content_attributes: attributes,
  };
}
