import type { LaneItem } from '../domain/lane-item.js';
import { deleteKey, editKey, orphanChat, type MessageDelete, type MessageEdit } from '../domain/wa-events.js';
import { extractContent } from './content.js';
import { isGroup, isPhoneJid, normalizePhoneJid } from './jid.js';
import { resolveChat } from './normalize.js';
import { DeletedRowSchema, type MessageRaw, MessageKeySchema, type ProtocolMessage, ProtocolMessageSchema } from './payload.js';

/**
 * Edits and deletes (reference §2.1 step 3, §2.4, §2.5) → lane items. Such an event has no
 * WhatsApp time of its own that orders it after its target (a revoke carries none; an edit's
 * timestampMs is on WhatsApp's clock), so it is placed at the moment evosync received it, never
 * earlier than its own time: the message it refers to, sent before, always sorts ahead of it in
 * the lane, and the lane can never hold an event in front of the message it waits for.
 */
export type EventItems = { items: LaneItem[]; skipped: { waId: string; reason: string }[] } | { refused: string };

const REVOKE = new Set<unknown>(['REVOKE', 0]);
const MESSAGE_EDIT = new Set<unknown>(['MESSAGE_EDIT', 14]);

export interface EventContext {
  instance: string;
  /** The envelope's `sender`: the instance's own JID, which a contact's protocolMessage key names. */
  ownJid: string | null;
  nowMs: number;
}

/** MESSAGES_EDITED / SEND_MESSAGE_UPDATE: data is the protocolMessage (edit, or a revoke). */
export function normalizeProtocolEvent(ctx: EventContext, data: unknown): EventItems {
  const parsed = ProtocolMessageSchema.safeParse(data);
  if (!parsed.success) return { refused: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  const chat = senderSideChat(parsed.data.key.remoteJid ?? null, ctx.ownJid);
  const item = fromProtocol(ctx, parsed.data, chat, parsed.data.key.fromMe === true && chat.chatKnown, null);
  return 'skip' in item ? { items: [], skipped: [{ waId: parsed.data.key.id, reason: item.skip }] } : { items: [item], skipped: [] };
}

/**
 * A protocolMessage found inside an upserted message (older Evolution versions and other sources
 * emit it as a message): its outer key is the receiving side's, so the chat is known from it.
 */
export function protocolInUpsert(ctx: EventContext, raw: MessageRaw): LaneItem | { skip: string } | null {
  const message = raw.message ?? {};
  const edited = (message['editedMessage'] as { message?: Record<string, unknown> } | undefined)?.message;
  const proto = message['protocolMessage'] ?? edited?.['protocolMessage'];
  if (!proto) return null;
  const parsed = ProtocolMessageSchema.safeParse(proto);
  if (!parsed.success) return { skip: 'protocol message without a usable key' };
  const resolved = resolveChat(raw.key);
  const chat = { chat: resolved.chat, chatPhone: resolved.phone, chatLid: resolved.lid, isGroup: isGroup(raw.key.remoteJid), chatKnown: true };
  return fromProtocol(ctx, parsed.data, chat, raw.key.fromMe, raw.messageTimestamp);
}

/** MESSAGES_DELETE in either shape: the revoked message's key, or its whole stored row. */
export function normalizeDeleteEvent(ctx: EventContext, data: unknown): EventItems {
  const row = DeletedRowSchema.safeParse(data);
  let key: MessageRaw['key'];
  let ownSec = 0;
  if (row.success) {
    key = row.data.key;
    if (row.data.messageTimestamp != null) ownSec = seconds(row.data.messageTimestamp);
  } else {
    const bare = MessageKeySchema.safeParse(data);
    if (!bare.success) return { refused: bare.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
    key = bare.data;
  }
  const resolved = resolveChat(key);
  const item: MessageDelete = {
    instance: ctx.instance, waId: deleteKey(key.id), targetWaId: key.id, chat: resolved.chat, chatPhone: resolved.phone, chatLid: resolved.lid,
    isGroup: isGroup(key.remoteJid), chatKnown: true, fromMe: key.fromMe, timestamp: Math.max(ownSec, Math.floor(ctx.nowMs / 1000)), event: 'messages.delete',
  };
  return { items: [item], skipped: [] };
}

interface ChatGuess {
  chat: string;
  chatPhone: string | null;
  chatLid: string | null;
  isGroup: boolean;
  chatKnown: boolean;
}

function fromProtocol(ctx: EventContext, p: ProtocolMessage, chat: ChatGuess, fromMe: boolean, outerTs: number | null): MessageEdit | MessageDelete | { skip: string } {
  const target = p.key.id;
  const located = chat.chatKnown ? chat : { ...chat, chat: orphanChat(target) };
  const receivedSec = Math.floor(ctx.nowMs / 1000);
  if (REVOKE.has(p.type)) {
    return { instance: ctx.instance, waId: deleteKey(target), targetWaId: target, ...located, fromMe, timestamp: Math.max(outerTs ? seconds(outerTs) : 0, receivedSec), event: 'messages.delete' };
  }
  if (!MESSAGE_EDIT.has(p.type)) return { skip: `protocol message ${String(p.type)} is not synced` };
  const editedAtMs = p.timestampMs != null ? Number(p.timestampMs) : outerTs != null ? seconds(outerTs) * 1000 : ctx.nowMs;
  const text = editedText(p.editedMessage ?? null);
  if (text === null) return { skip: 'edit without new text' };
  return {
    instance: ctx.instance, waId: editKey(target, editedAtMs), targetWaId: target, ...located, fromMe,
    timestamp: Math.max(Math.floor(editedAtMs / 1000), receivedSec), text, editedAtMs, event: 'messages.edited',
  };
}

/**
 * Which chat a sender-side key names. A group key names the group; a phone JID other than ours is
 * the contact (our own message, edited on our phone); our own JID, or any LID (which may be ours:
 * the envelope only gives our phone JID), says nothing: the ledger takes the target's chat.
 */
function senderSideChat(remoteJid: string | null, ownJid: string | null): ChatGuess {
  const unknown = { chat: '', chatPhone: null, chatLid: null, isGroup: false, chatKnown: false };
  if (!remoteJid) return unknown;
  if (isGroup(remoteJid)) return { chat: remoteJid, chatPhone: null, chatLid: null, isGroup: true, chatKnown: true };
  if (!isPhoneJid(remoteJid) || !ownJid || normalizePhoneJid(remoteJid) === normalizePhoneJid(ownJid)) return unknown;
  const r = resolveChat({ id: 'x', remoteJid, fromMe: true });
  return { chat: r.chat, chatPhone: r.phone, chatLid: r.lid, isGroup: false, chatKnown: true };
}

/** The new text of an edit: text, extended text, or the new caption of a media message. */
function editedText(edited: Record<string, unknown> | null): string | null {
  if (!edited) return null;
  const content = extractContent(edited, null, null);
  return content.text.length > 0 ? content.text : null;
}

function seconds(ts: number): number {
  return Math.floor(ts > 1e12 ? ts / 1000 : ts);
}
