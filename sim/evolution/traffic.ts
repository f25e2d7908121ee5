/**
 * Traffic generation: chats (1:1 by phone or by LID, groups with LID or phone addressing) and the
 * messages Evolution would have stored for them, built through the same key and prepareMessage
 * code the events use. Shapes (chats, kinds, senders) come from the spec's seed; WhatsApp ids and
 * row ids come from the sim's own stream so two batches never share an id.
 */
import { createRandom, type Random } from '../shared/random.js';
import { requireInstance, type SimContext } from './context.js';
import type { InstanceState } from './instances.js';
import { baileysKey, storedKey, type KeyInput, type Party } from './lid.js';
import { fakeMediaSize } from './media.js';
import { buildMessageRaw, storedMessage } from './message-raw.js';
import * as P from './payloads.js';
import type { GeneratedChat, MessageKey, MessageKind, StoredMessage, TrafficSpec } from './types.js';
import { groupJid, lidJid, messageId, phoneNumber, pnJid, userPart, type Device } from './wa-ids.js';

type Json = Record<string, unknown>;

interface Member extends Party {
  name: string;
  device: Device;
}

interface SimChat {
  chat: GeneratedChat;
  contact?: Member;
  lidAddressed: boolean;
  members?: Member[];
  groupMode?: 'lid' | 'pn';
  /** Recent messages, for replies and reactions. */
  recent: { key: MessageKey; sender: string; text?: string }[];
}

const FIRST = ['Ana', 'Bruno', 'Carla', 'Diego', 'Elisa', 'Fábio', 'Gabi', 'Hugo', 'Isabel', 'João', 'Karen', 'Lucas', 'Marina', 'Nuno', 'Olga', 'Paulo'];
const LAST = ['Silva', 'Souza', 'Costa', 'Lima', 'Rocha', 'Alves', 'Dias', 'Melo'];
const PHRASES = ['oi, tudo bem?', 'bom dia!', 'pode me ajudar com o pedido?', 'obrigado 🙏', 'qual o horário de vocês?', 'vou verificar e já retorno', 'ok, combinado', 'segue o comprovante', 'chegou aqui, valeu', 'ainda aguardando resposta'];
const EMOJIS = ['👍', '❤️', '😂', '😮', '🙏'];
const DEVICES: Device[] = ['android', 'android', 'ios', 'web'];

function member(rng: Random, ids: Random): Member {
  return {
    pn: pnJid(phoneNumber(ids)),
    lid: lidJid(ids),
    name: `${rng.pick(FIRST)} ${rng.pick(LAST)}`,
    device: rng.pick(DEVICES),
  };
}

function makeChats(ctx: SimContext, inst: InstanceState, spec: TrafficSpec, rng: Random): SimChat[] {
  const ids = ctx.rng.ids;
  const chats: SimChat[] = [];
  for (let i = 0; i < Math.max(1, spec.chats); i++) {
    if (rng.chance(spec.groupRate ?? 0)) {
      const members = Array.from({ length: rng.int(3, 8) }, () => member(rng, ids));
      const jid = groupJid(ids);
      chats.push({
        chat: { instance: inst.name, remoteJid: jid, phoneJid: null, lid: null, isGroup: true, name: `Grupo ${i + 1}` },
        lidAddressed: false,
        members,
        groupMode: rng.chance(spec.lidRate ?? 0) ? 'lid' : 'pn',
        recent: [],
      });
      continue;
    }
    const contact = member(rng, ids);
    const lidAddressed = rng.chance(spec.lidRate ?? 0);
    // A phone-addressed chat only reveals its LID when the server sends sender_lid (about half here).
    const lidKnown = lidAddressed || rng.chance(0.5);
    if (!lidKnown) contact.lid = null;
    chats.push({
      chat: {
        instance: inst.name,
        remoteJid: lidAddressed ? (contact.lid as string) : (contact.pn as string),
        phoneJid: contact.pn,
        lid: contact.lid,
        isGroup: false,
        name: contact.name,
      },
      contact,
      lidAddressed,
      recent: [],
    });
  }
  return chats;
}

function pickKind(rng: Random, kinds: TrafficSpec['kinds']): MessageKind {
  const entries = Object.entries(kinds ?? { text: 1 }).filter(([, w]) => (w ?? 0) > 0) as [MessageKind, number][];
  if (entries.length === 0) return 'text';
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = rng.next() * total;
  for (const [k, w] of entries) {
    r -= w;
    if (r < 0) return k;
  }
  return entries[entries.length - 1]?.[0] ?? 'text';
}

function content(kind: MessageKind, c: SimChat, id: string, ts: number, n: number, rng: Random): { message: Json; text?: string } {
  const media = { label: id, fileLength: fakeMediaSize(id), timestamp: ts };
  const caption = (p: number): string | undefined => (rng.chance(p) ? `legenda ${n}` : undefined);
  const lastText = [...c.recent].reverse().find((r) => r.text !== undefined);
  const target = c.recent[c.recent.length - 1];
  switch (kind) {
    case 'extendedText': {
      const text = `${rng.pick(PHRASES)} (${n})`;
      const ctx = lastText
        ? P.quoteContext({ id: lastText.key.id, participant: lastText.sender, message: { conversation: lastText.text } })
        : undefined;
      return { message: P.extendedTextMessage(ctx ? text : `${text} https://example.com/p/${n}`, ctx, id), text };
    }
    case 'image':
      return { message: P.imageMessage({ ...media, caption: caption(0.5) }) };
    case 'video':
      return { message: P.videoMessage({ ...media, caption: caption(0.3) }) };
    case 'audio':
      return { message: P.audioMessage({ ...media, mimetype: 'audio/mpeg', ptt: false, seconds: rng.int(5, 240) }) };
    case 'ptt':
      return { message: P.audioMessage({ ...media, ptt: true, seconds: rng.int(1, 60) }) };
    case 'document':
      return { message: P.documentMessage({ ...media, fileName: `arquivo-${n}.pdf`, caption: caption(0.3) }) };
    case 'sticker':
      return { message: P.stickerMessage(media) };
    case 'location':
      return { message: P.locationMessage(-23.5 - rng.next() / 10, -46.6 - rng.next() / 10, `Local ${n}`) };
    case 'contact': {
      const who = `${rng.pick(FIRST)} ${rng.pick(LAST)}`;
      return { message: P.contactMessage(who, phoneNumber(rng)) };
    }
    case 'reaction':
      if (target) return { message: P.reactionMessage(target.key, rng.pick(EMOJIS), ts * 1000) };
      break;
    case 'poll':
      return { message: P.pollCreationMessageV3(`Enquete ${n}`, ['sim', 'não', 'talvez'], id) };
    case 'text':
      break;
  }
  const text = `${rng.pick(PHRASES)} (${n})`;
  return { message: P.textMessage(text, id), text };
}

export function generate(ctx: SimContext, spec: TrafficSpec): StoredMessage[] {
  const inst = requireInstance(ctx, spec.instance ?? ctx.instances.keys().next().value ?? '');
  const rng = createRandom(spec.seed ?? ctx.rng.seeds.int(1, 0x7fffffff));
  const chats = makeChats(ctx, inst, spec, rng);
  for (const c of chats) {
    for (const jid of [c.chat.remoteJid, c.chat.phoneJid, c.chat.lid]) if (jid) ctx.chats.set(`${inst.name}|${jid}`, c.chat);
  }
  const start = spec.startTimestamp ?? Math.floor(ctx.clock() / 1000) - spec.messages;
  const self: Party = { pn: inst.wuid, lid: inst.lid };
  const out: StoredMessage[] = [];

  for (let i = 0; i < spec.messages; i++) {
    const c = i < chats.length ? (chats[i] as SimChat) : rng.pick(chats);
    const fromMe = rng.chance(spec.fromMeRate ?? 0);
    const kind = pickKind(rng, spec.kinds);
    const sender = c.members ? (fromMe ? null : rng.pick(c.members)) : null;
    const device = fromMe ? rng.pick(DEVICES) : (sender ?? c.contact)?.device ?? 'android';
    const id = messageId(ctx.rng.ids, device);
    const lidMessage = c.lidAddressed || c.groupMode === 'lid';
    const input: KeyInput = c.members
      ? { id, fromMe, groupJid: c.chat.remoteJid, sender: sender ?? self, groupMode: c.groupMode, missingAlt: false }
      : { id, fromMe, contact: c.contact, lidAddressed: c.lidAddressed, missingAlt: false };
    input.missingAlt = lidMessage && rng.chance(spec.missingAltRate ?? 0);
    const ts = start + i;
    const body = content(kind, c, id, ts, i + 1, rng);
    const pushName = fromMe ? inst.profileName : (sender ?? c.contact)?.name ?? '';
    const raw = buildMessageRaw(
      { key: storedKey(input, ctx.convention), pushName, message: body.message, messageTimestamp: ts, status: fromMe ? 2 : undefined },
      inst.id,
    );
    const msg = storedMessage(ctx.cuid(), inst.name, raw, c.chat, { pushName: '', status: '' });
    if (!spec.storeOnPublish) ctx.store.insert(msg, inst.id, { omitContextInfo: raw.contextInfo === undefined });
    out.push(msg);

    // What a later reply would quote: who wrote it, in this chat's addressing.
    const rawKey = baileysKey(input);
    const author = c.members ? (rawKey.participant ?? '') : fromMe ? (c.lidAddressed ? inst.lid : inst.wuid) : rawKey.remoteJid;
    c.recent.push({ key: rawKey, sender: author || userPart(inst.wuid), text: body.text });
    if (c.recent.length > 5) c.recent.shift();
  }
  return out;
}
