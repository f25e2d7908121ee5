/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are explored as loose JSON */
/**
 * LID conventions (reference §2.8): for each Evolution version, the key in the MESSAGES_UPSERT
 * event and the key of the stored row (as findMessages returns it) for the same message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEvolutionSim, type EvolutionSim, type LidConvention, type StoredMessage } from '../../sim/evolution/index.js';
import { startReceiver, type Received, type Receiver } from '../../sim/evolution/receiver.js';

let sim: EvolutionSim | undefined;
let rx: Receiver | undefined;

afterEach(async () => {
  await sim?.close();
  await rx?.close();
  sim = rx = undefined;
});

type Evt = { event: string; data: Record<string, any> };
const evt = (r: Received): Evt => r.body as Evt;

async function setup(convention: LidConvention, spec: { missingAltRate?: number; groupRate?: number; lidRate?: number; fromMeRate?: number } = {}) {
  rx = await startReceiver();
  sim = await createEvolutionSim({ instances: ['inst1'], lidConvention: convention });
  sim.setWebhook('inst1', { url: rx.url, events: ['MESSAGES_UPSERT', 'CONTACTS_UPSERT', 'MESSAGES_UPDATE'] });
  const { messages } = await sim.run({ chats: 1, messages: 3, lidRate: 1, groupRate: 0, ...spec }, { concurrency: 1 });
  const upserts = rx.received.filter((r) => evt(r).event === 'messages.upsert').map(evt);
  return { messages, upserts, sim, rx };
}

async function storedKey(s: EvolutionSim, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/chat/findMessages/inst1`, {
    method: 'POST',
    headers: { apikey: s.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ where: { key: { id } } }),
  });
  const json = (await res.json()) as { messages: { records: { key: Record<string, unknown> }[] } };
  expect(json.messages.records).toHaveLength(1);
  return json.messages.records[0]!.key;
}

const chatOf = (m: StoredMessage) => ({ lid: m.chat.lid as string, pn: m.chat.phoneJid as string });

describe('LID conventions', () => {
  it('2.3.6: raw key stored and emitted (remoteJid @lid, remoteJidAlt phone, addressingMode lid)', async () => {
    const { messages, upserts, sim: s } = await setup('2.3.6');
    const m = messages[0]!;
    const { lid, pn } = chatOf(m);
    expect(lid).toMatch(/@lid$/);
    const ev = upserts[0]!.data['key'];
    expect(Object.keys(ev)).toEqual(['remoteJid', 'remoteJidAlt', 'fromMe', 'id', 'addressingMode']);
    expect(ev).toEqual({ remoteJid: lid, remoteJidAlt: pn, fromMe: false, id: m.key.id, addressingMode: 'lid' });
    expect(await storedKey(s, m.key.id)).toEqual(ev);
    expect(m.canonicalJid).toBe(pn);
  });

  it('2.3.7: event swapped to the phone, stored row keeps the raw LID key', async () => {
    const { messages, upserts, sim: s, rx: r } = await setup('2.3.7', { fromMeRate: 0 });
    const m = messages[0]!;
    const { lid, pn } = chatOf(m);
    const ev = upserts[0]!.data['key'];
    expect(ev).toEqual({ remoteJid: pn, remoteJidAlt: lid, fromMe: false, id: m.key.id, addressingMode: 'pn' });
    const st = await storedKey(s, m.key.id);
    expect(st).toEqual({ remoteJid: lid, remoteJidAlt: pn, fromMe: false, id: m.key.id, addressingMode: 'lid' });
    expect(m.key.remoteJid).toBe(lid);
    // The contact event reads the (swapped) key: the contact is the phone.
    const contact = r.received.map(evt).find((e) => e.event === 'contacts.upsert');
    expect(contact?.data['remoteJid']).toBe(pn);
  });

  it('2.3.7 without remoteJidAlt (#1764): nothing to swap, the event stays @lid', async () => {
    const { messages, upserts } = await setup('2.3.7', { missingAltRate: 1 });
    const ev = upserts[0]!.data['key'];
    expect(ev).toEqual({ remoteJid: chatOf(messages[0]!).lid, fromMe: false, id: messages[0]!.key.id, addressingMode: 'lid' });
  });

  it('2.3.4: remoteJid rewritten to senderPn with previousRemoteJid, in event and row alike', async () => {
    const { messages, upserts, sim: s } = await setup('2.3.4');
    const m = messages[0]!;
    const { lid, pn } = chatOf(m);
    const ev = upserts[0]!.data['key'];
    expect(ev).toEqual({ remoteJid: pn, fromMe: false, id: m.key.id, senderPn: pn, previousRemoteJid: lid });
    expect(await storedKey(s, m.key.id)).toEqual(ev);
  });

  it('groups: participant @lid with participantAlt phone; never swapped', async () => {
    for (const convention of ['2.3.6', '2.3.7'] as const) {
      const { messages, upserts } = await setup(convention, { groupRate: 1, lidRate: 1 });
      const m = messages[0]!;
      const ev = upserts[0]!.data['key'];
      expect(ev['remoteJid']).toMatch(/@g\.us$/);
      expect(ev['participant']).toMatch(/@lid$/);
      expect(ev['participantAlt']).toMatch(/@s\.whatsapp\.net$/);
      expect(ev['addressingMode']).toBe('lid');
      expect(ev).toEqual(m.key);
      expect(m.canonicalJid).toBe(ev['remoteJid']);
      await sim?.close();
      await rx?.close();
      sim = rx = undefined;
    }
  });

  it('receipts for a LID chat carry the raw LID remoteJid in every convention', async () => {
    for (const convention of ['2.3.4', '2.3.6', '2.3.7'] as const) {
      const { messages, rx: r } = await setup(convention, { fromMeRate: 1 });
      const receipt = r.received.map(evt).find((e) => e.event === 'messages.update');
      expect(receipt?.data).toMatchObject({ keyId: messages[0]!.key.id, remoteJid: chatOf(messages[0]!).lid, fromMe: true, status: 'DELIVERY_ACK' });
      await sim?.close();
      await rx?.close();
      sim = rx = undefined;
    }
  });
});
