import { normalizeEnvelope } from '../src/evolution/normalize.js';
import type { NewMessage } from '../src/ledger/ledger.js';

/** A realistic Evolution `messages.upsert` webhook envelope (~600 bytes, as in limits.md). */
export function upsertEnvelope(instance: string, i: number, chats: number, baseTs = 1_760_000_000): string {
  const chat = 5511900000000 + (i % chats);
  return JSON.stringify({
    event: 'messages.upsert',
    instance,
    data: {
      key: { remoteJid: `${chat}@s.whatsapp.net`, fromMe: false, id: `3EB0${i.toString(16).toUpperCase().padStart(16, '0')}` },
      pushName: `Customer ${i % chats}`,
      status: 'DELIVERY_ACK',
      message: { conversation: `Hello, this is message number ${i} about my order, could you please check the delivery status?`, messageContextInfo: { deviceListMetadataVersion: 2 } },
      contextInfo: null,
      messageType: 'conversation',
      messageTimestamp: baseTs + Math.floor(i / chats),
      instanceId: 'c1a2b3c4-d5e6-7f80-9a0b-1c2d3e4f5a6b',
      source: 'android',
    },
    destination: 'http://127.0.0.1/webhooks/evolution',
    date_time: '2025-10-21T11:40:39.000Z',
    sender: '5511900001111@s.whatsapp.net',
    server_url: 'https://evo.example.com',
    apikey: null,
  });
}

/** `n` messages over `chats` chats, normalised as the webhook would, ready to be put in a ledger. */
export function ledgerRows(from: number, n: number, chats: number, instance = 'bench'): NewMessage[] {
  const rows: NewMessage[] = [];
  for (let i = from; i < from + n; i++) {
    const norm = normalizeEnvelope(JSON.parse(upsertEnvelope(instance, i, chats)));
    if (norm.kind !== 'messages') throw new Error('bad payload');
    rows.push({ message: norm.messages[0]!, direction: 'to_chatwoot', source: 'webhook' });
  }
  return rows;
}
