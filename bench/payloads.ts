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
