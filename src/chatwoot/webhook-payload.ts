import { z } from 'zod';
import type { AgentAttachment } from '../domain/agent-reply.js';

/**
 * What a Chatwoot webhook means for WhatsApp (reference §6.4). Chatwoot posts every event of the
 * inbox, including the messages evosync itself created there, and private notes; only an agent's
 * outgoing, non-private message (or template) is a reply to send, and only a message_updated that
 * says "deleted" or "retry" asks for anything else. Pure: the caller resolves chat and instance.
 */
const Id = z.coerce.number().int().positive();

const AttachmentSchema = z.looseObject({
  file_type: z.string().nullish(),
  data_url: z.string().nullish(),
  content_type: z.string().nullish(),
  extension: z.string().nullish(),
});

const MessageEventSchema = z.looseObject({
  event: z.enum(['message_created', 'message_updated']),
  id: Id,
  content: z.string().nullish(),
  content_type: z.string().nullish(),
  // A string in webhooks; tolerate the REST integer form too.
  message_type: z.union([z.string(), z.number()]),
  private: z.boolean().nullish(),
  source_id: z.string().nullish(),
  content_attributes: z.record(z.string(), z.unknown()).nullish(),
  created_at: z.union([z.string(), z.number()]).nullish(),
  account: z.looseObject({ id: Id }).nullish(),
  inbox: z.looseObject({ id: Id }).nullish(),
  sender: z.looseObject({ name: z.string().nullish(), type: z.string().nullish() }).nullish(),
  attachments: z.array(AttachmentSchema).nullish(),
  conversation: z.looseObject({
    id: Id,
    inbox_id: Id.nullish(),
    contact_inbox: z.looseObject({ source_id: z.string().nullish() }).nullish(),
    meta: z.looseObject({ sender: z.looseObject({ identifier: z.string().nullish(), phone_number: z.string().nullish() }).nullish() }).nullish(),
  }),
});

export interface MessageFacts {
  event: 'message_created' | 'message_updated';
  cwMessageId: number;
  accountId: number | null;
  inboxId: number | null;
  conversationId: number;
  /** Where the WhatsApp chat can be read from, best first. */
  contactInboxSourceId: string | null;
  contactIdentifier: string | null;
  contactPhone: string | null;
  messageType: 'incoming' | 'outgoing' | 'template' | 'activity' | 'unknown';
  content: string;
  sourceId: string | null;
  inReplyTo: number | null;
  inReplyToWaId: string | null;
  attachments: AgentAttachment[];
  senderName: string | null;
  createdAtMs: number | null;
}

export type ChatwootWebhook =
  | { kind: 'ignored'; event: string; reason: string }
  | { kind: 'invalid'; event: string | null; reason: string }
  /** A new agent reply (or template) to send. */
  | { kind: 'reply'; facts: MessageFacts }
  /** An agent message deleted in Chatwoot: revoke it on WhatsApp. */
  | { kind: 'deleted'; facts: MessageFacts }
  /**
   * An agent message changed without an error on it: Chatwoot's "Retry" (which clears
   * external_error), a status change evosync made itself, or a reply whose message_created was lost.
   */
  | { kind: 'updated'; facts: MessageFacts };

const MESSAGE_TYPES = ['incoming', 'outgoing', 'activity', 'template'] as const;

export function classifyChatwootWebhook(body: unknown): ChatwootWebhook {
  try {
    return classifyOrThrow(body);
  } catch (error) {
    // Unreadable is "invalid" (kept with the reason), never an exception the route reports as a 503.
    return { kind: 'invalid', event: null, reason: `evosync could not read this webhook: ${error instanceof Error ? error.message.slice(0, 200) : 'unknown error'}` };
  }
}

function classifyOrThrow(body: unknown): ChatwootWebhook {
  const event = typeof (body as { event?: unknown } | null)?.event === 'string' ? (body as { event: string }).event : null;
  if (event === null) return { kind: 'invalid', event: null, reason: 'no "event" field' };
  if (event !== 'message_created' && event !== 'message_updated') return { kind: 'ignored', event, reason: `event ${event} needs nothing on WhatsApp` };
  const parsed = MessageEventSchema.safeParse(body);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return { kind: 'invalid', event, reason: `${event}: ${i ? `${i.path.map(String).join('.') || '(root)'}: ${i.message}` : 'invalid'}` };
  }
  const p = parsed.data;
  const facts = toFacts(p);
  if (p.private) return { kind: 'ignored', event, reason: 'private note' };
  if (facts.messageType === 'incoming') return { kind: 'ignored', event, reason: 'incoming message (from the contact, or synced from WhatsApp by evosync)' };
  if (facts.messageType === 'activity' || facts.messageType === 'unknown') return { kind: 'ignored', event, reason: `${facts.messageType} message` };
  const attrs = p.content_attributes ?? {};
  const fromWhatsApp = (p.source_id ?? '').startsWith('WAID:') || attrs['external_echo'] === true;
  if (attrs['deleted'] === true) {
    return event === 'message_updated' ? { kind: 'deleted', facts } : { kind: 'ignored', event, reason: 'created deleted' };
  }
  // Messages evosync wrote into Chatwoot from WhatsApp (typed on the business phone) are already there.
  if (fromWhatsApp) return { kind: 'ignored', event, reason: 'message synced from WhatsApp by evosync' };
  if (event === 'message_updated') {
    if (typeof attrs['external_error'] === 'string' && attrs['external_error']) return { kind: 'ignored', event, reason: 'marked failed' };
    return { kind: 'updated', facts };
  }
  if (!facts.content.trim() && facts.attachments.length === 0) return { kind: 'ignored', event, reason: 'nothing to send (no text, no sendable attachment)' };
  return { kind: 'reply', facts };
}

function toFacts(p: z.infer<typeof MessageEventSchema>): MessageFacts {
  const attrs = p.content_attributes ?? {};
  const messageType = typeof p.message_type === 'number' ? (MESSAGE_TYPES[p.message_type] ?? 'unknown') : ((MESSAGE_TYPES as readonly string[]).includes(p.message_type) ? (p.message_type as MessageFacts['messageType']) : 'unknown');
  const externalReply = typeof attrs['in_reply_to_external_id'] === 'string' ? attrs['in_reply_to_external_id'] : null;
  const inReplyTo = Number(attrs['in_reply_to']);
  return {
    event: p.event,
    cwMessageId: p.id,
    accountId: p.account?.id ?? null,
    inboxId: p.inbox?.id ?? p.conversation.inbox_id ?? null,
    conversationId: p.conversation.id,
    contactInboxSourceId: p.conversation.contact_inbox?.source_id ?? null,
    contactIdentifier: p.conversation.meta?.sender?.identifier ?? null,
    contactPhone: p.conversation.meta?.sender?.phone_number ?? null,
    messageType,
    content: p.content ?? '',
    sourceId: p.source_id ?? null,
    inReplyTo: Number.isInteger(inReplyTo) && inReplyTo > 0 ? inReplyTo : null,
    inReplyToWaId: externalReply?.startsWith('WAID:') ? externalReply.slice(5) || null : null,
    attachments: (p.attachments ?? [])
      .filter((a) => typeof a.data_url === 'string' && a.data_url && ['image', 'audio', 'video', 'file'].includes(a.file_type ?? ''))
      .map((a) => ({ url: a.data_url as string, fileType: a.file_type as string, contentType: a.content_type ?? null, fileName: fileNameOf(a.data_url as string) })),
    senderName: p.sender?.name ?? null,
    createdAtMs: createdAtMs(p.created_at),
  };
}

/** ActiveStorage redirect URLs end in the file name. */
function fileNameOf(url: string): string | null {
  try {
    const last = new URL(url).pathname.split('/').pop();
    return last ? decodeURIComponent(last) : null;
  } catch {
    return null;
  }
}

/** ISO-8601 in webhooks, unix seconds in REST shapes. */
function createdAtMs(v: string | number | null | undefined): number | null {
  if (typeof v === 'number') return v > 1e12 ? v : v * 1000;
  if (typeof v === 'string' && v) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}
