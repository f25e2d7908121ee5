import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/domain/message.js';
import { normalizeEnvelope } from '../../src/evolution/normalize.js';

const envelope = (event: string, data: unknown, extra: Record<string, unknown> = {}) => ({
  event, instance: 'inst1', data, destination: 'http://evosync/webhooks/evolution', date_time: '2025-10-21T11:40:39.000Z',
  sender: '5511900001111@s.whatsapp.net', server_url: 'https://evo.example.com', apikey: null, ...extra,
});

const raw = (over: Record<string, unknown> = {}, key: Record<string, unknown> = {}) => ({
  key: { remoteJid: '5511999998888@s.whatsapp.net', fromMe: false, id: '3EB0ABCDEF', ...key },
  pushName: 'Maria', status: 'DELIVERY_ACK', message: { conversation: 'oi', messageContextInfo: {} },
  contextInfo: null, messageType: 'conversation', messageTimestamp: 1729512000, instanceId: 'c1a2', source: 'android', ...over,
});

function one(body: unknown) {
  const n = normalizeEnvelope(body);
  if (n.kind !== 'messages') throw new Error(`expected messages, got ${JSON.stringify(n)}`);
  expect(n.messages).toHaveLength(1);
  return n.messages[0] as ChatMessage;
}

describe('normalizeEnvelope: text in all its forms', () => {
  it('plain conversation text', () => {
    const m = one(envelope('messages.upsert', raw()));
    expect(m).toMatchObject({ instance: 'inst1', waId: '3EB0ABCDEF', chat: '5511999998888@s.whatsapp.net', chatPhone: '5511999998888', fromMe: false, timestamp: 1729512000, pushName: 'Maria' });
    expect(m.content).toEqual({ type: 'conversation', text: 'oi', media: null, quotedId: null });
  });

  it('extended text rewritten by Evolution keeps the reply in the top-level contextInfo', () => {
    const m = one(envelope('messages.upsert', raw({ message: { conversation: 'see this' }, messageType: 'conversation', contextInfo: { stanzaId: 'QUOTED1', participant: '5511@s.whatsapp.net' } })));
    expect(m.content.text).toBe('see this');
    expect(m.content.quotedId).toBe('QUOTED1');
  });

  it('extended text not rewritten (older versions) and its inner contextInfo', () => {
    const m = one(envelope('messages.upsert', raw({ message: { extendedTextMessage: { text: 'a link https://x.y', contextInfo: { stanzaId: 'Q2' } } }, messageType: 'extendedTextMessage' })));
    expect(m.content).toMatchObject({ text: 'a link https://x.y', quotedId: 'Q2' });
  });

  it('captions of image, video and document (with documentWithCaption unwrapped)', () => {
    const img = one(envelope('messages.upsert', raw({ message: { imageMessage: { caption: 'look', mimetype: 'image/jpeg' } }, messageType: 'imageMessage' })));
    expect(img.content).toMatchObject({ text: 'look', media: { kind: 'image', mimetype: 'image/jpeg' } });
    const doc = one(envelope('messages.upsert', raw({ message: { documentWithCaptionMessage: { message: { documentMessage: { caption: 'invoice', fileName: 'inv.pdf', mimetype: 'application/pdf' } } } }, messageType: 'documentWithCaptionMessage' })));
    expect(doc.content).toMatchObject({ text: 'invoice', media: { kind: 'document', fileName: 'inv.pdf' } });
    const voice = one(envelope('messages.upsert', raw({ message: { audioMessage: { ptt: true, mimetype: 'audio/ogg; codecs=opus' } }, messageType: 'audioMessage' })));
    expect(voice.content.media?.kind).toBe('voice');
  });

  it('ephemeral and view-once wrappers are unwrapped', () => {
    const m = one(envelope('messages.upsert', raw({ message: { ephemeralMessage: { message: { extendedTextMessage: { text: 'disappearing' } } } }, messageType: 'ephemeralMessage' })));
    expect(m.content.text).toBe('disappearing');
  });

  it('unknown types become a visible placeholder, never dropped', () => {
    const m = one(envelope('messages.upsert', raw({ message: { someFutureMessage: { x: 1 } }, messageType: 'someFutureMessage' })));
    expect(m.content.text).toContain('someFutureMessage');
  });

  it('location, poll and reaction become readable text', () => {
    expect(one(envelope('messages.upsert', raw({ message: { locationMessage: { degreesLatitude: -23.5, degreesLongitude: -46.6, name: 'Office' } }, messageType: 'locationMessage' }))).content.text).toContain('maps.google.com/?q=-23.5,-46.6');
    expect(one(envelope('messages.upsert', raw({ message: { pollCreationMessageV3: { name: 'Lunch?', options: [{ optionName: 'Yes' }, { optionName: 'No' }] } }, messageType: 'pollCreationMessageV3' }))).content.text).toBe('📊 Poll: Lunch?\n• Yes\n• No');
    expect(one(envelope('messages.upsert', raw({ message: { reactionMessage: { text: '👍', key: { id: 'X' } } }, messageType: 'reactionMessage' }))).content.text).toBe('Reacted 👍');
  });
});

describe('normalizeEnvelope: direction and identity', () => {
  it('fromMe messages typed on the phone are outgoing; send.message is always fromMe', () => {
    expect(one(envelope('messages.upsert', raw({}, { fromMe: true }))).fromMe).toBe(true);
    const sent = one(envelope('send.message', raw({ status: 'PENDING' }, { fromMe: true })));
    expect(sent).toMatchObject({ fromMe: true, event: 'send.message', pushName: null });
  });

  it('2.3.6 raw LID key resolves to the phone in remoteJidAlt', () => {
    const m = one(envelope('messages.upsert', raw({}, { remoteJid: '1234567890123@lid', remoteJidAlt: '5511999998888@s.whatsapp.net', addressingMode: 'lid' })));
    expect(m).toMatchObject({ chat: '5511999998888@s.whatsapp.net', chatPhone: '5511999998888', chatLid: '1234567890123@lid' });
  });

  it('2.3.7 swapped key resolves to the same chat', () => {
    const m = one(envelope('messages.upsert', raw({}, { remoteJid: '5511999998888@s.whatsapp.net', remoteJidAlt: '1234567890123@lid', addressingMode: 'pn' })));
    expect(m).toMatchObject({ chat: '5511999998888@s.whatsapp.net', chatLid: '1234567890123@lid' });
  });

  it('2.3.4 senderPn rewrite resolves to the same chat', () => {
    const m = one(envelope('messages.upsert', raw({}, { remoteJid: '5511999998888@s.whatsapp.net', senderPn: '5511999998888@s.whatsapp.net', previousRemoteJid: '1234567890123@lid' })));
    expect(m).toMatchObject({ chat: '5511999998888@s.whatsapp.net', chatLid: '1234567890123@lid' });
  });

  it('a LID with no phone anywhere stays keyed by the LID', () => {
    const m = one(envelope('messages.upsert', raw({}, { remoteJid: '1234567890123@lid', addressingMode: 'lid' })));
    expect(m).toMatchObject({ chat: '1234567890123@lid', chatPhone: null });
  });

  it('group messages keep the group chat and name the sender by phone', () => {
    const m = one(envelope('messages.upsert', raw({ pushName: 'João' }, { remoteJid: '120363000000000000@g.us', participant: '2222@lid', participantAlt: '5521988887777@s.whatsapp.net' })));
    expect(m).toMatchObject({ chat: '120363000000000000@g.us', isGroup: true, sender: { jid: '5521988887777@s.whatsapp.net', phone: '5521988887777', name: 'João' } });
  });

  it('status broadcasts and protocol messages are skipped with a reason', () => {
    const n = normalizeEnvelope(envelope('messages.upsert', raw({}, { remoteJid: 'status@broadcast' })));
    expect(n).toMatchObject({ kind: 'messages', messages: [], skipped: [{ waId: '3EB0ABCDEF' }] });
    const p = normalizeEnvelope(envelope('messages.upsert', raw({ message: { protocolMessage: { type: 0 } } })));
    expect(p.kind === 'messages' && p.skipped[0]?.reason).toMatch(/protocol/);
  });
});

describe('normalizeEnvelope: other events and bad input', () => {
  it('connection.update is a control event', () => {
    expect(normalizeEnvelope(envelope('connection.update', { instance: 'inst1', state: 'open', statusReason: 200, wuid: 'x' }))).toMatchObject({ kind: 'control', state: 'open', statusReason: 200 });
  });

  it('the by-events path names the event when the body uses another spelling', () => {
    expect(normalizeEnvelope(envelope('MESSAGES_UPSERT', raw())).kind).toBe('messages');
    expect(normalizeEnvelope({ ...envelope('x', raw()), event: 'whatever' }, { pathEvent: 'messages-upsert' }).kind).toBe('messages');
  });

  it('events evosync does not sync are ignored, not refused', () => {
    expect(normalizeEnvelope(envelope('presence.update', { id: 'x' }))).toMatchObject({ kind: 'ignored' });
    expect(normalizeEnvelope(envelope('totally.new', {}))).toMatchObject({ kind: 'ignored' });
  });

  it('malformed payloads are refused with a precise reason', () => {
    expect(normalizeEnvelope({ hello: 'world' })).toMatchObject({ kind: 'refused', code: 'PAYLOAD_INVALID' });
    const bad = normalizeEnvelope(envelope('messages.upsert', raw({ messageTimestamp: 'yesterday' })));
    expect(bad).toMatchObject({ kind: 'refused', code: 'PAYLOAD_INVALID' });
    expect(bad.kind === 'refused' && bad.reason).toMatch(/messageTimestamp/);
    expect(normalizeEnvelope(envelope('messages.upsert', { key: { id: 'x' } }))).toMatchObject({ kind: 'refused' });
  });

  it('ids, JIDs and instance names that no ledger can key on (control characters, unpaired surrogates) are refused, text may hold anything', () => {
    for (const id of ['3EB0\u0000AB', 'A\nB', 'X\ud800', '\udc00Y', 'DEL\u007f']) {
      const n = normalizeEnvelope(envelope('messages.upsert', raw({}, { id })));
      expect(n, JSON.stringify(id)).toMatchObject({ kind: 'refused', code: 'PAYLOAD_INVALID' });
      expect(n.kind === 'refused' && n.reason).toMatch(/key\.id.*control characters or unpaired surrogates/);
    }
    expect(normalizeEnvelope(envelope('messages.upsert', raw({}, { remoteJid: '55119\u0000@s.whatsapp.net' })))).toMatchObject({ kind: 'refused' });
    expect(normalizeEnvelope(envelope('messages.upsert', raw(), { instance: 'inst\u0000' }))).toMatchObject({ kind: 'refused' });
    // A well-formed pair, and anything at all in the message text.
    expect(one(envelope('messages.upsert', raw({}, { id: 'ID😀' }))).waId).toBe('ID😀');
    const text = 'a\u0000b \ud800 \n';
    expect(one(envelope('messages.upsert', raw({ message: { conversation: text } }))).content.text).toBe(text);
  });

  it('a timestamp no clock gives (beyond the year 2286, negative) is refused, not stored to fail its batch', () => {
    for (const messageTimestamp of [1e300, -1, '123456789012345678901', { low: 0, high: 2 ** 30 }, { low: 0, high: -1 }]) {
      const n = normalizeEnvelope(envelope('messages.upsert', raw({ messageTimestamp })));
      expect(n, JSON.stringify(messageTimestamp)).toMatchObject({ kind: 'refused', code: 'PAYLOAD_INVALID' });
      expect(n.kind === 'refused' && n.reason).toMatch(/messageTimestamp/);
    }
    expect(one(envelope('messages.upsert', raw({ messageTimestamp: 9_999_999_999_999 }))).timestamp).toBe(9_999_999_999);
  });

  it('timestamps as Long objects, strings or milliseconds become epoch seconds', () => {
    expect(one(envelope('messages.upsert', raw({ messageTimestamp: { low: 1729512000, high: 0, unsigned: true } }))).timestamp).toBe(1729512000);
    expect(one(envelope('messages.upsert', raw({ messageTimestamp: '1729512000' }))).timestamp).toBe(1729512000);
    expect(one(envelope('messages.upsert', raw({ messageTimestamp: 1729512000123 }))).timestamp).toBe(1729512000);
  });
});
