import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim, type ChatwootSimOptions } from '../../sim/chatwoot/index.js';
import { simClient, startWebhookReceiver, type ReceivedWebhook, type SimClient, type WebhookReceiver } from '../../sim/chatwoot/test-client.js';

let sim: ChatwootSim;
let api: SimClient;
let hook: WebhookReceiver;
let conv: number;

async function start(opts: ChatwootSimOptions = {}): Promise<void> {
  sim = await createChatwootSim({ seed: 77, ...opts });
  api = simClient(sim);
  sim.setInboxWebhook(hook.url);
  const contact = await api.post('contacts', {
    name: 'João',
    phone_number: '+5511999999999',
    identifier: '5511999999999@s.whatsapp.net',
    inbox_id: sim.inboxId,
    source_id: '5511999999999',
  });
  conv = (await api.post('conversations', { inbox_id: sim.inboxId, contact_id: contact.json.payload.contact.id, source_id: '5511999999999' })).json.id;
}

const idle = () => api.get('/_sim/webhooks/idle', { token: null });
const events = (name: string) => hook.received.filter((w) => w.body?.event === name);

beforeEach(async () => {
  hook = await startWebhookReceiver();
});
afterEach(async () => {
  await sim.close();
  await hook.close();
});

describe('webhook delivery', () => {
  it('signs 4.13 deliveries with HMAC-SHA256 over "{timestamp}.{raw body}"', async () => {
    await start({ secret: 'topsecret' });
    await api.post(`conversations/${conv}/messages`, { content: 'Olá', message_type: 'incoming', source_id: 'WAID:1' });
    const [w] = await hook.waitFor(() => events('message_created').length === 1).then(() => events('message_created'));
    const { headers, rawBody } = w as ReceivedWebhook;
    expect(headers['content-type']).toBe('application/json');
    expect(headers.accept).toBe('application/json');
    expect(headers['x-chatwoot-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    const ts = headers['x-chatwoot-timestamp'] as string;
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    const expected = `sha256=${createHmac('sha256', 'topsecret').update(`${ts}.${rawBody}`).digest('hex')}`;
    expect(headers['x-chatwoot-signature']).toBe(expected);
    // signing only the body must NOT verify (issue #13809)
    expect(headers['x-chatwoot-signature']).not.toBe(`sha256=${createHmac('sha256', 'topsecret').update(rawBody).digest('hex')}`);
  });

  it('sends unsigned deliveries (≤ 4.10) with a delivery id and the documented message_created shape', async () => {
    await start();
    const res = await api.post(`conversations/${conv}/messages`, { content: 'oi', message_type: 'incoming', source_id: 'WAID:2' });
    await hook.waitFor(() => events('message_created').length === 1);
    const w = events('message_created')[0] as ReceivedWebhook;
    expect(w.headers['x-chatwoot-signature']).toBeUndefined();
    expect(w.headers['x-chatwoot-timestamp']).toBeUndefined();
    expect(w.headers['x-chatwoot-delivery']).toBeDefined();
    const body = w.body;
    expect(body).toMatchObject({
      event: 'message_created',
      id: res.json.id,
      content: 'oi',
      message_type: 'incoming',
      private: false,
      source_id: 'WAID:2',
      content_type: 'text',
      account: { id: sim.accountId },
      inbox: { id: sim.inboxId, name: 'WhatsApp' },
      sender: { name: 'João', phone_number: '+5511999999999' },
      conversation: {
        id: conv,
        channel: 'Channel::Api',
        status: 'open',
        contact_inbox: { source_id: '5511999999999', inbox_id: sim.inboxId },
        meta: { sender: { type: 'contact', identifier: '5511999999999@s.whatsapp.net' } },
        messages: [{ id: res.json.id, message_type: 0, status: 'sent', conversation_id: conv }],
      },
    });
    expect(body).not.toHaveProperty('status');
    expect(body.sender).not.toHaveProperty('type');
    expect(body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(events('conversation_created')).toHaveLength(1);
  });

  it('includes private notes and agent replies, with user senders', async () => {
    await start();
    await sim.agentReply(conv, 'Posso **ajudar**?');
    await sim.agentReply(conv, 'internal', { private: true });
    await hook.waitFor(() => events('message_created').length === 2);
    const [reply, note] = events('message_created').map((w) => w.body);
    expect(reply).toMatchObject({ message_type: 'outgoing', private: false, content: 'Posso **ajudar**?', sender: { type: 'user', name: 'Admin' } });
    expect(note).toMatchObject({ message_type: 'outgoing', private: true });
    // the last non-private message is what conversation.messages[0] shows
    expect(note.conversation.messages[0].content).toBe('Posso **ajudar**?');
  });

  it('marks the message failed when the endpoint answers non-2xx, fires one message_updated, then stops', async () => {
    await start();
    hook.respondWith = 500;
    const id = (await api.post(`conversations/${conv}/messages`, { content: 'x', message_type: 'incoming' })).json.id;
    await hook.waitFor(() => events('message_updated').length >= 1);
    await idle();
    await new Promise((r) => setTimeout(r, 50));
    await idle();
    expect(events('message_created')).toHaveLength(1);
    expect(events('message_updated')).toHaveLength(1);
    const row = sim.snapshot().messages.find((m) => m.id === id);
    expect(row).toMatchObject({ status: 'failed', content_attributes: { external_error: '500 Internal Server Error' } });
  });

  it('reports timeouts and refused connections in external_error', async () => {
    await start({ webhookTimeoutMs: 100 });
    hook.delayMs = 400;
    const slow = (await api.post(`conversations/${conv}/messages`, { content: 'slow' })).json.id;
    await idle();
    expect(sim.snapshot().messages.find((m) => m.id === slow)?.content_attributes.external_error).toBe('Timed out reading data from server');

    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    sim.setInboxWebhook(`http://127.0.0.1:${port}/gone`);
    const refused = (await api.post(`conversations/${conv}/messages`, { content: 'refused' })).json.id;
    await idle();
    expect(sim.snapshot().messages.find((m) => m.id === refused)?.content_attributes.external_error).toBe(
      `Failed to open TCP connection to 127.0.0.1:${port} (Connection refused - connect(2) for "127.0.0.1" port ${port})`,
    );
  });

  it('sends conversation_status_changed and conversation_updated with changed_attributes', async () => {
    await start();
    await api.post(`conversations/${conv}/toggle_status`, { status: 'resolved' });
    await hook.waitFor(() => events('conversation_updated').length >= 1);
    const changed = events('conversation_status_changed')[0]?.body;
    expect(changed.changed_attributes).toEqual([{ status: { previous_value: 'open', current_value: 'resolved' } }]);
    expect(changed.status).toBe('resolved');
    expect(events('conversation_updated')[0]?.body.changed_attributes[0]).toEqual({
      status: { previous_value: 'open', current_value: 'resolved' },
    });
  });

  it('emits message_updated for status PATCHes and nothing for no-op ones', async () => {
    await start();
    const id = (await api.post(`conversations/${conv}/messages`, { content: 'out' })).json.id;
    await api.patch(`conversations/${conv}/messages/${id}`, { status: 'delivered' });
    await api.patch(`conversations/${conv}/messages/${id}`, { status: 'delivered' });
    await api.patch(`conversations/${conv}/messages/${id}`, { status: 'bogus' });
    await idle();
    expect(events('message_updated')).toHaveLength(1);
    expect(events('message_updated')[0]?.body.conversation.messages[0].status).toBe('delivered');
  });

  it('duplicates deliveries with distinct delivery ids when asked to', async () => {
    await start();
    sim.setFaults({ webhookDuplicateRate: 1 });
    await api.post(`conversations/${conv}/messages`, { content: 'twice', message_type: 'incoming' });
    await hook.waitFor(() => events('message_created').length === 2);
    const [a, b] = events('message_created');
    expect(a?.body.id).toBe(b?.body.id);
    expect(a?.headers['x-chatwoot-delivery']).not.toBe(b?.headers['x-chatwoot-delivery']);
  });

  it('keeps per-conversation order by default and loses it when shuffled', async () => {
    await start();
    for (let i = 0; i < 20; i++) await api.post(`conversations/${conv}/messages`, { content: `${i}`, message_type: 'incoming' });
    await hook.waitFor(() => events('message_created').length === 20);
    const ordered = events('message_created').map((w) => Number(w.body.content));
    expect(ordered).toEqual([...ordered].sort((x, y) => x - y));
    hook.received.length = 0;
    sim.setFaults({ webhookShuffle: true });
    for (let i = 0; i < 30; i++) await api.post(`conversations/${conv}/messages`, { content: `${i}`, message_type: 'incoming' });
    await hook.waitFor(() => events('message_created').length === 30);
    const shuffled = events('message_created').map((w) => Number(w.body.content));
    expect(new Set(shuffled).size).toBe(30);
    expect(shuffled).not.toEqual([...shuffled].sort((x, y) => x - y));
  });
});
