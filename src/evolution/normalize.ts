import type { LaneItem } from '../domain/lane-item.js';
import type { ChatMessage, Sender } from '../domain/message.js';
import { coerceError, type ErrorCode } from '../errors.js';
import { extractContent } from './content.js';
import { normalizeReceipts } from './receipts.js';
import { wireEventName } from './events.js';
import { isGroup, isLid, isNonChat, isPhoneJid, normalizePhoneJid, phoneDigits } from './jid.js';
import { type EventContext, normalizeDeleteEvent, normalizeProtocolEvent, protocolInUpsert } from './normalize-events.js';
import { ConnectionUpdateSchema, EnvelopeSchema, type MessageRaw, MessageRawSchema } from './payload.js';

/**
 * Envelope → what evosync does with it. Three outcomes, never an exception:
 * - `messages`: chat messages to write to the ledger;
 * - `control`: an instance-level fact (connection state) to record;
 * - `ignored`: a well-formed event evosync deliberately does not act on (answered 2xx);
 * - `refused`: input that does not parse (answered 4xx, kept with its reason).
 */
export type Normalized =
  | { kind: 'messages'; instance: string; event: string; messages: LaneItem[]; skipped: { waId: string; reason: string }[] }
  | { kind: 'control'; instance: string; event: 'connection.update'; state: string; statusReason: number | null }
  | { kind: 'ignored'; instance: string | null; event: string; reason: string }
  | { kind: 'refused'; code: ErrorCode; reason: string; instance: string | null; event: string | null };

export interface NormalizeOptions {
  /** By-events webhook path segment, which names the event when the body does not. */
  pathEvent?: string;
  /**
   * When the event was received (default: now). Edits and deletes are placed in their lane at this
   * time (see normalize-events.ts); everything else is ordered by WhatsApp's own timestamps.
   */
  nowMs?: number;
}

export function normalizeEnvelope(body: unknown, opts: NormalizeOptions = {}): Normalized {
  try {
    return normalizeOrThrow(body, opts);
  } catch (error) {
    // A shape no schema anticipated must still end as refused-and-kept: a throw here would reach
    // the route as a 503, Evolution would retry it forever, and the body would never be stored.
    const instance = typeof (body as { instance?: unknown } | null)?.instance === 'string' ? ((body as { instance: string }).instance).slice(0, 200) : null;
    return { kind: 'refused', code: 'PAYLOAD_INVALID', reason: `evosync could not read this event: ${coerceError(error).message.slice(0, 200)}`, instance, event: null };
  }
}

function normalizeOrThrow(body: unknown, opts: NormalizeOptions): Normalized {
  const env = EnvelopeSchema.safeParse(body);
  if (!env.success) {
    return { kind: 'refused', code: 'PAYLOAD_INVALID', reason: `envelope: ${describe(env.error.issues)}`, instance: null, event: null };
  }
  const { instance } = env.data;
  const event = wireEventName(env.data.event) ?? (opts.pathEvent ? wireEventName(opts.pathEvent) : null);
  if (!event) {
    return { kind: 'ignored', instance, event: env.data.event, reason: `unknown event "${env.data.event}"` };
  }
  const ctx: EventContext = { instance, ownJid: env.data.sender ?? null, nowMs: opts.nowMs ?? Date.now() };
  switch (event) {
    case 'messages.upsert':
    case 'send.message':
      return normalizeMessages(ctx, event, env.data.data);
    case 'messages.edited':
    case 'send.message.update':
    case 'messages.delete': {
      const r = event === 'messages.delete' ? normalizeDeleteEvent(ctx, env.data.data) : normalizeProtocolEvent(ctx, env.data.data);
      if ('refused' in r) return { kind: 'refused', code: 'PAYLOAD_INVALID', reason: `${event} data: ${r.refused}`, instance, event };
      return { kind: 'messages', instance, event, messages: r.items, skipped: r.skipped };
    }
    case 'messages.update': return normalizeReceipts(instance, env.data.data, ctx.nowMs);
    case 'connection.update': {
      const c = ConnectionUpdateSchema.safeParse(env.data.data);
      if (!c.success) return { kind: 'refused', code: 'PAYLOAD_INVALID', reason: `connection.update: ${describe(c.error.issues)}`, instance, event };
      return { kind: 'control', instance, event, state: c.data.state, statusReason: c.data.statusReason ?? null };
    }
    default:
      return { kind: 'ignored', instance, event, reason: `event ${event} is not synced` };
  }
}

function normalizeMessages(ctx: EventContext, event: 'messages.upsert' | 'send.message', data: unknown): Normalized {
  const instance = ctx.instance;
  const items = Array.isArray(data) ? data : [data];
  if (items.length === 0) return { kind: 'ignored', instance, event, reason: 'empty data' };
  const messages: LaneItem[] = [];
  const skipped: { waId: string; reason: string }[] = [];
  for (const [i, item] of items.entries()) {
    const parsed = MessageRawSchema.safeParse(item);
    if (!parsed.success) {
      // One bad item refuses the whole event: a partial write would ack what was not stored.
      return { kind: 'refused', code: 'PAYLOAD_INVALID', reason: `${event} data${items.length > 1 ? `[${i}]` : ''}: ${describe(parsed.error.issues)}`, instance, event };
    }
    // Evolution emits edits and revokes as MESSAGES_EDITED, never as an upsert (reference §2.1);
    // other sources and older versions may, and then the outer key even names the chat.
    const result = (isNonChat(parsed.data.key.remoteJid) ? null : protocolInUpsert(ctx, parsed.data)) ?? toChatMessage(instance, event, parsed.data);
    if ('skip' in result) skipped.push({ waId: parsed.data.key.id, reason: result.skip });
    else messages.push(result);
  }
  return { kind: 'messages', instance, event, messages, skipped };
}

function toChatMessage(instance: string, event: 'messages.upsert' | 'send.message', raw: MessageRaw): ChatMessage | { skip: string } {
  const key = raw.key;
  if (isNonChat(key.remoteJid)) return { skip: `not a customer chat (${key.remoteJid})` };
  const message = raw.message ?? null;
  if (!message || Object.keys(message).length === 0) return { skip: 'no message content (stub or decrypt failure)' };
  if ('protocolMessage' in message) return { skip: 'protocol message of no synced type' };

  const chat = resolveChat(key);
  const group = isGroup(key.remoteJid);
  const sender = group ? resolveSender(key, raw.pushName ?? null) : null;
  const fromMe = event === 'send.message' ? true : key.fromMe;
  return {
    instance,
    waId: key.id,
    chat: chat.chat,
    chatPhone: chat.phone,
    chatLid: chat.lid,
    isGroup: group,
    fromMe,
    timestamp: Math.floor(raw.messageTimestamp > 1e12 ? raw.messageTimestamp / 1000 : raw.messageTimestamp),
    pushName: fromMe ? null : raw.pushName ?? null,
    sender,
    content: extractContent(message, raw.messageType, raw.contextInfo ?? null),
    event,
  };
}

/**
 * The canonical chat across Evolution's three LID conventions (reference §2.8):
 * 2.3.2–2.3.4 already rewrote remoteJid to the phone (senderPn); 2.3.5–2.3.6 send the raw @lid key
 * with the phone in remoteJidAlt; 2.3.7+ swap them (phone in remoteJid, LID in remoteJidAlt). In
 * every case the phone JID wins when one is present, so one person stays one chat.
 */
export function resolveChat(key: MessageRaw['key']): { chat: string; phone: string | null; lid: string | null } {
  const candidates = [key.remoteJid, key.remoteJidAlt, key.senderPn, key.previousRemoteJid].filter((j): j is string => !!j);
  if (isGroup(key.remoteJid)) return { chat: key.remoteJid, phone: null, lid: null };
  const phoneJid = candidates.find(isPhoneJid);
  const lid = candidates.find(isLid) ?? null;
  if (phoneJid) {
    const normalized = normalizePhoneJid(phoneJid);
    return { chat: normalized, phone: phoneDigits(normalized), lid };
  }
  return { chat: lid ?? key.remoteJid, phone: null, lid };
}

function resolveSender(key: MessageRaw['key'], pushName: string | null): Sender | null {
  // participantPn: the 2.3.2–2.3.4 name of the alternate (Baileys 7 rc.3).
  const ids = [key.participant, key.participantAlt, key.participantPn].filter((j): j is string => !!j);
  if (ids.length === 0) return null;
  const phoneJid = ids.find(isPhoneJid);
  const jid = phoneJid ? normalizePhoneJid(phoneJid) : (ids[0] as string);
  return { jid, phone: phoneJid ? phoneDigits(phoneJid) : null, name: key.fromMe ? null : pushName, lid: ids.find(isLid) ?? null };
}

function describe(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
