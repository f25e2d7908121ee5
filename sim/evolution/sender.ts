/**
 * sendMessageWithTyping(): the common path of /message/send* (reference §2.1 SEND_MESSAGE, §4).
 * Order matters and is Evolution's: number check (400 exists:false) → typing delay → send →
 * store → SEND_MESSAGE emitted without awaiting → the same messageRaw returned. There is no
 * idempotency key, so a client retry after an ambiguous failure sends twice; the send faults
 * exist to make evosync prove it never does that.
 */
import { inBackground, type SimContext } from './context.js';
import { EVENT } from './events.js';
import type { InstanceState } from './instances.js';
import { badRequest, EvoError, plainError } from './http/errors.js';
import { buildMessageRaw, contentType, storedMessage } from './message-raw.js';
import { longJson } from './proto-json.js';
import { messageRawFor } from './publisher.js';
import type { GeneratedChat, MessageKey } from './types.js';
import { createJid, isGroupJid, isLidJid, messageId } from './wa-ids.js';

type Json = Record<string, unknown>;

export interface SendRequest {
  number: string;
  delay?: number;
  quoted?: { key?: { id?: unknown }; message?: unknown };
  /** Bytes to serve later from getBase64FromMediaMessage (media sends). */
  media?: Buffer;
  /** The Baileys content for this send, given its id, time and the contextInfo to carry. */
  content(o: { id: string; ts: number; contextInfo: Json | undefined; isGroup: boolean }): Json;
  /** Text sends never carry a forwarded-media `{}` context in groups; media sends do. */
  kind: 'text' | 'media' | 'audio';
}

export interface SendOutcome {
  body: Json;
  /** Set when the send must look failed to the client: hang this long, then destroy the socket. */
  hangMs?: number;
}

/** whatsappNumber(): groups always pass, LIDs are assumed to exist, phones unless listed. */
function checkNumber(ctx: SimContext, number: string): string {
  const jid = createJid(number);
  if (isGroupJid(jid)) return jid;
  const listed = ctx.sendFaults.notOnWhatsappJids.some((n) => n === number || createJid(n) === jid);
  if (listed) throw badRequest({ jid, exists: false, number });
  return jid;
}

/** The quoted message: given in full, or loaded by key.id from the instance's rows. */
function quoteContext(ctx: SimContext, inst: InstanceState, quoted: SendRequest['quoted']): Json | undefined {
  const id = quoted?.key?.id;
  if (typeof id !== 'string' || !id) return undefined;
  const given = quoted?.message as Json | undefined;
  const row = given ? undefined : ctx.store.byKeyId(inst.name, id);
  const key = (given ? (quoted?.key as Partial<MessageKey>) : row?.msg.key) ?? undefined;
  const message = given ?? row?.msg.message;
  if (!key || !message) return undefined;
  const type = contentType(message);
  if (!type) return undefined;
  const inner = message[type];
  const clean = inner && typeof inner === 'object' ? { ...(inner as Json) } : inner;
  if (clean && typeof clean === 'object') delete (clean as Json)['contextInfo'];
  return {
    stanzaId: id,
    participant: key.fromMe ? inst.wuid : (key.participant ?? key.remoteJid),
    quotedMessage: { [type]: clean },
  };
}

function chatFor(ctx: SimContext, inst: InstanceState, jid: string): GeneratedChat {
  const known = ctx.chats.get(`${inst.name}|${jid}`);
  if (known) return known;
  return {
    instance: inst.name,
    remoteJid: jid,
    phoneJid: !isGroupJid(jid) && !isLidJid(jid) ? jid : null,
    lid: isLidJid(jid) ? jid : null,
    isGroup: isGroupJid(jid),
    name: '',
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function performSend(ctx: SimContext, inst: InstanceState, req: SendRequest): Promise<SendOutcome> {
  const f = ctx.sendFaults;
  const rng = ctx.rng.sends;
  if (rng.chance(f.errorRate)) {
    throw new EvoError(f.errorStatus, f.errorStatus >= 500 ? 'Internal Server Error' : 'Bad Request', [
      'Error: Connection Closed',
    ]);
  }
  // onWhatsApp() on a closed socket throws outside the handler's try: a bare 500.
  if (inst.connection !== 'open') throw plainError('Connection Closed');
  const jid = checkNumber(ctx, req.number);
  if (req.delay && req.delay > 0) await sleep(req.delay);

  const id = messageId(ctx.rng.ids, 'web');
  const ts = Math.floor(ctx.clock() / 1000);
  const isGroup = isGroupJid(jid);
  const key = { remoteJid: jid, fromMe: true, id } as MessageKey;
  if (isGroup) key.participant = inst.wuid;

  // 1:1 sends carry Evolution's fixed contextInfo; a forwarded media message gets `{}` in groups.
  let contextInfo: Json | undefined = isGroup
    ? req.kind === 'media'
      ? {}
      : undefined
    : {
        mentionedJid: [],
        groupMentions: [],
        ephemeralSettingTimestamp: longJson(ts - 172_800),
        disappearingMode: { initiator: 0 },
      };
  const quote = req.kind === 'audio' ? undefined : quoteContext(ctx, inst, req.quoted);
  if (quote) contextInfo = { ...quote, ...(contextInfo ?? {}) };

  const raw = buildMessageRaw(
    { key, message: req.content({ id, ts, contextInfo, isGroup }), messageTimestamp: ts, status: 1 },
    inst.id,
  );
  const chat = chatFor(ctx, inst, jid);
  const msg = storedMessage(ctx.cuid(), inst.name, raw, chat, { pushName: 'Você', status: 'PENDING' });
  if (req.media) ctx.media.remember(id, req.media);
  const row = ctx.store.insert(msg, inst.id, { omitContextInfo: raw.contextInfo === undefined, sent: true });
  const body = messageRawFor(ctx, inst, row, false);
  inBackground(ctx, ctx.dispatcher.emit(inst, EVENT.SEND_MESSAGE, body));

  return rng.chance(f.timeoutAfterSendRate) ? { body, hangMs: f.hangMs } : { body };
}
