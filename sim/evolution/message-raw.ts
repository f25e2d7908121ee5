/**
 * Evolution's prepareMessage() and the other `data` shapes it emits (reference §2.1–§2.7). These
 * builders are the single place where Evolution's normalisations live, so tests can build the same
 * fixtures the sim publishes.
 */
import type { GeneratedChat, MessageKey, StoredMessage } from './types.js';
import { deviceOf } from './wa-ids.js';

type Json = Record<string, unknown>;

/** proto.WebMessageInfo.Status, as Evolution's renderStatus maps it. */
export const STATUS_NAMES: Record<number, string> = {
  0: 'ERROR',
  1: 'PENDING',
  2: 'SERVER_ACK',
  3: 'DELIVERY_ACK',
  4: 'READ',
  5: 'PLAYED',
};

export interface MessageRaw {
  key: MessageKey;
  pushName: string | null;
  status?: string;
  message: Json;
  /** Absent (undefined) when the content type has no contextInfo field; null when unset. */
  contextInfo?: Json | null;
  messageType: string;
  messageTimestamp: number;
  instanceId: string;
  source: string;
}

/** A message as Baileys delivers it to Evolution's handlers. */
export interface WaMessage {
  key: MessageKey;
  pushName?: string | null;
  message: Json;
  messageTimestamp: number;
  /** proto status number (1 PENDING for sends, 2 SERVER_ACK for own messages from the phone). */
  status?: number;
}

/** Baileys getContentType(): the first key that is `conversation` or names a *Message. */
export function contentType(message: Json): string | undefined {
  return Object.keys(message).find(
    (k) => (k === 'conversation' || k.includes('Message')) && k !== 'senderKeyDistributionMessage',
  );
}

/**
 * Content types whose proto has no contextInfo field (or is a plain string): reading
 * `.contextInfo` gives undefined, which JSON drops. Everything else defaults to null.
 */
const NO_CONTEXT_INFO = new Set([
  'conversation',
  'reactionMessage',
  'protocolMessage',
  'documentWithCaptionMessage',
  'ephemeralMessage',
  'viewOnceMessage',
  'viewOnceMessageV2',
  'editedMessage',
]);

function unwrapQuoted(ctx: Json | null | undefined): void {
  const quoted = ctx?.['quotedMessage'] as Json | undefined;
  if (!quoted) return;
  const ext = quoted['extendedTextMessage'] as Json | undefined;
  if (ext) {
    quoted['conversation'] = ext['text'];
    delete quoted['extendedTextMessage'];
  }
  const dwc = quoted['documentWithCaptionMessage'] as { message?: Json } | undefined;
  if (dwc) {
    quoted['documentMessage'] = dwc.message?.['documentMessage'];
    delete quoted['documentWithCaptionMessage'];
  }
}

/**
 * prepareMessage(): the `messageRaw` stored in Message and emitted as MESSAGES_UPSERT/SEND_MESSAGE.
 * - status from the proto status; an incoming message without one becomes DELIVERY_ACK;
 * - extendedTextMessage rewritten to `conversation` (its contextInfo survives only top-level);
 * - documentWithCaptionMessage unwrapped to documentMessage;
 * - the same two rewrites inside contextInfo.quotedMessage;
 * - source guessed from the id's shape; pushName falls back to 'Você' for own messages.
 * The input is not modified.
 */
export function buildMessageRaw(wa: WaMessage, instanceId: string): MessageRaw {
  const message: Json = structuredClone(wa.message);
  const type = contentType(message);
  const content = type ? message[type] : undefined;
  let contextInfo: Json | null | undefined;
  if (type && !NO_CONTEXT_INFO.has(type) && content && typeof content === 'object') {
    contextInfo = ((content as Json)['contextInfo'] as Json | undefined) ?? null;
  }

  const raw: MessageRaw = {
    key: wa.key,
    pushName:
      wa.pushName ||
      (wa.key.fromMe ? 'Você' : wa.key.participant ? (wa.key.participant.split('@')[0] ?? null) : null),
    status: wa.status !== undefined ? STATUS_NAMES[wa.status] : undefined,
    message,
    contextInfo,
    messageType: type ?? 'unknown',
    messageTimestamp: wa.messageTimestamp,
    instanceId,
    source: deviceOf(wa.key.id),
  };
  if (!raw.status && wa.key.fromMe === false) raw.status = 'DELIVERY_ACK';

  const ext = message['extendedTextMessage'] as Json | undefined;
  if (ext) {
    raw.messageType = 'conversation';
    message['conversation'] = ext['text'];
    delete message['extendedTextMessage'];
  }
  const dwc = message['documentWithCaptionMessage'] as { message?: Json } | undefined;
  if (dwc) {
    raw.messageType = 'documentMessage';
    message['documentMessage'] = dwc.message?.['documentMessage'];
    delete message['documentWithCaptionMessage'];
  }
  unwrapQuoted(raw.contextInfo);
  return raw;
}

/** MESSAGES_UPDATE data (receipts): the Baileys update key flattened, plus the row id it refers to. */
export function receiptPayload(
  key: { id: string; remoteJid: string; fromMe: boolean; participant?: string },
  status: string,
  instanceId: string,
  messageId: string,
): Json {
  return {
    keyId: key.id,
    remoteJid: key.remoteJid,
    fromMe: key.fromMe,
    participant: key.participant,
    status,
    instanceId,
    messageId,
  };
}

/** A Message row as Prisma returns it (all columns), for the API-delete shape of MESSAGES_DELETE. */
export interface MessageRow {
  id: string;
  key: MessageKey;
  pushName: string | null;
  participant: string | null;
  messageType: string;
  message: Json;
  contextInfo: Json | null;
  source: string;
  messageTimestamp: number;
  instanceId: string;
  status: string | null;
}

/** MESSAGES_DELETE after DELETE /chat/deleteMessageForEveryone: the stored row, status DELETED. */
export function apiDeletePayload(row: MessageRow): Json {
  return {
    id: row.id,
    instanceId: row.instanceId,
    key: row.key,
    messageType: row.messageType,
    status: 'DELETED',
    source: row.source,
    messageTimestamp: row.messageTimestamp,
    pushName: row.pushName,
    participant: row.participant,
    message: row.message,
  };
}

/**
 * A protocolMessage as JSON.stringify renders the proto instance Evolution passes on untouched
 * (MESSAGES_EDITED, SEND_MESSAGE_UPDATE): enums by name, 64-bit numbers as strings.
 */
export function protocolMessagePayload(
  key: { remoteJid: string; fromMe: boolean; id: string; participant?: string },
  type: 'REVOKE' | 'MESSAGE_EDIT',
  edited?: Json,
  timestampMs?: number,
): Json {
  const k: Json = { remoteJid: key.remoteJid, fromMe: key.fromMe, id: key.id };
  if (key.participant) k['participant'] = key.participant;
  const out: Json = { key: k, type };
  if (edited) out['editedMessage'] = edited;
  if (timestampMs !== undefined) out['timestampMs'] = String(timestampMs);
  return out;
}

export interface InstanceIdentity {
  name: string;
  wuid: string;
  profileName: string;
  profilePictureUrl: string | null;
}

/** CONNECTION_UPDATE data for the three states Evolution emits (reference §2.7). */
export function connectionPayload(inst: InstanceIdentity, state: 'open' | 'connecting' | 'close', statusReason: number): Json {
  if (state === 'open') {
    return {
      instance: inst.name,
      wuid: inst.wuid,
      profileName: inst.profileName,
      profilePictureUrl: inst.profilePictureUrl,
      state: 'open',
      statusReason,
    };
  }
  return { instance: inst.name, state, statusReason };
}

/**
 * The Message-table row for a built messageRaw, as findMessages will serve it, with the chat it
 * belongs to and its canonical key (phone JID if known, else the LID; the group JID for groups).
 */
export function storedMessage(id: string, instance: string, raw: MessageRaw, chat: GeneratedChat, fallback: { pushName: string; status: string }): StoredMessage {
  return {
    id,
    instance,
    key: raw.key,
    pushName: raw.pushName ?? fallback.pushName,
    messageType: raw.messageType,
    message: raw.message,
    contextInfo: raw.contextInfo ?? null,
    messageTimestamp: raw.messageTimestamp,
    source: raw.source,
    status: raw.status ?? fallback.status,
    chat,
    canonicalJid: chat.isGroup ? chat.remoteJid : (chat.phoneJid ?? chat.lid ?? chat.remoteJid),
  };
}
