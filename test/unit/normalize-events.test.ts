import { describe, expect, it } from 'vitest';
import { brazilAlternate } from '../../src/chatwoot/brazil-phone.js';
import { normalizeEnvelope } from '../../src/evolution/normalize.js';

const NOW = 1_760_000_100_000;
const env = (event: string, data: unknown) => ({ event, instance: 'inst1', sender: '5511900000000@s.whatsapp.net', data });
const items = (event: string, data: unknown) => {
  const n = normalizeEnvelope(env(event, data), { nowMs: NOW });
  if (n.kind !== 'messages') throw new Error(`expected messages, got ${JSON.stringify(n)}`);
  return n;
};

describe('edits and deletes (reference §2.1 step 3, §2.4, §2.5)', () => {
  it("a contact's edit names our own JID in its sender-side key: the chat is left to the ledger", () => {
    const [edit] = items('messages.edited', { key: { remoteJid: '5511900000000@s.whatsapp.net', fromMe: true, id: 'ABC' }, type: 'MESSAGE_EDIT', editedMessage: { conversation: 'new text' }, timestampMs: '1760000050000' }).messages;
    expect(edit).toMatchObject({ event: 'messages.edited', waId: 'ABC#edit:1760000050000', targetWaId: 'ABC', chat: 'orphan:ABC', chatKnown: false, text: 'new text', editedAtMs: 1_760_000_050_000 });
    // Placed when received (never before its own time): its target always sorts ahead of it.
    expect(edit?.timestamp).toBe(1_760_000_100);
  });

  it('a LID in the key may be ours too; a phone that is not ours, or a group, names the chat', () => {
    expect(items('messages.edited', { key: { remoteJid: '123@lid', fromMe: true, id: 'L' }, type: 'MESSAGE_EDIT', editedMessage: { conversation: 'x' } }).messages[0]).toMatchObject({ chatKnown: false });
    expect(items('send.message.update', { key: { remoteJid: '5511988887777@s.whatsapp.net', fromMe: true, id: 'P' }, type: 14, editedMessage: { extendedTextMessage: { text: 'y' } }, timestampMs: 5 }).messages[0])
      .toMatchObject({ event: 'messages.edited', chat: '5511988887777@s.whatsapp.net', chatPhone: '5511988887777', chatKnown: true, fromMe: true, text: 'y' });
    expect(items('messages.edited', { key: { remoteJid: '1203@g.us', fromMe: true, id: 'G' }, type: 'MESSAGE_EDIT', editedMessage: { imageMessage: { caption: 'cap' } } }).messages[0]).toMatchObject({ chat: '1203@g.us', isGroup: true, text: 'cap' });
  });

  it('a REVOKE protocol message, the revoke key and the API-deleted row all become the same delete', () => {
    const a = items('messages.edited', { key: { remoteJid: '5511900000000@s.whatsapp.net', fromMe: true, id: 'D1' }, type: 'REVOKE' }).messages[0];
    const b = items('messages.delete', { remoteJid: '123@lid', remoteJidAlt: '5511977776666@s.whatsapp.net', fromMe: false, id: 'D1', addressingMode: 'lid' }).messages[0];
    const c = items('messages.delete', { id: 'cuid1', key: { remoteJid: '5511977776666@s.whatsapp.net', fromMe: false, id: 'D1', deleted: true }, status: 'DELETED', messageTimestamp: 1_760_000_000, message: {} }).messages[0];
    for (const d of [a, b, c]) expect(d).toMatchObject({ event: 'messages.delete', waId: 'D1#delete', targetWaId: 'D1' });
    expect(b).toMatchObject({ chat: '5511977776666@s.whatsapp.net', chatLid: '123@lid', chatKnown: true });
    expect(c?.chat).toBe('5511977776666@s.whatsapp.net');
  });

  it('a protocol message inside an upsert uses the outer key for the chat; other protocol types are skipped, not refused', () => {
    const n = items('messages.upsert', [
      { key: { remoteJid: '5511966665555@s.whatsapp.net', fromMe: false, id: 'OUT1' }, message: { protocolMessage: { key: { remoteJid: '5511900000000@s.whatsapp.net', fromMe: true, id: 'T1' }, type: 'REVOKE' } }, messageTimestamp: 1_760_000_010 },
      { key: { remoteJid: '5511966665555@s.whatsapp.net', fromMe: false, id: 'OUT2' }, message: { editedMessage: { message: { protocolMessage: { key: { id: 'T2' }, type: 'MESSAGE_EDIT', editedMessage: { conversation: 'z' }, timestampMs: '1760000020000' } } } }, messageTimestamp: 1_760_000_020 },
      { key: { remoteJid: '5511966665555@s.whatsapp.net', fromMe: false, id: 'OUT3' }, message: { protocolMessage: { key: { id: 'T3' }, type: 'EPHEMERAL_SETTING' } }, messageTimestamp: 1_760_000_030 },
    ]);
    expect(n.messages.map((m) => [m.waId, m.chat])).toEqual([['T1#delete', '5511966665555@s.whatsapp.net'], ['T2#edit:1760000020000', '5511966665555@s.whatsapp.net']]);
    expect(n.skipped).toEqual([{ waId: 'OUT3', reason: 'protocol message EPHEMERAL_SETTING is not synced' }]);
  });

  it('refuses a delete or edit without a usable key', () => {
    expect(normalizeEnvelope(env('messages.delete', { nothing: true }), { nowMs: NOW }).kind).toBe('refused');
    expect(normalizeEnvelope(env('messages.edited', { type: 'REVOKE' }), { nowMs: NOW }).kind).toBe('refused');
  });
});

describe("Brazil's ninth digit", () => {
  it('pairs a mobile with and without the 9; landlines and other countries have no other form', () => {
    expect(brazilAlternate('551187651234')).toBe('5511987651234');
    expect(brazilAlternate('5511987651234')).toBe('551187651234');
    expect(brazilAlternate('551133334444')).toBeNull();
    expect(brazilAlternate('5511933334444')).toBeNull();
    expect(brazilAlternate('14155550100')).toBeNull();
  });
});
