import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { simClient, startWebhookReceiver, type SimClient, type WebhookReceiver } from '../../sim/chatwoot/test-client.js';

let sim: ChatwootSim;
let api: SimClient;
const NOW = Date.UTC(2026, 3, 16, 13, 32, 28, 123);

beforeEach(async () => {
  sim = await createChatwootSim({ seed: 1, clock: () => NOW });
  api = simClient(sim);
});
afterEach(async () => sim.close());

describe('snapshot', () => {
  it('reflects contacts, contact_inboxes, conversations and messages in insertion order', async () => {
    const contact = (await api.post('contacts', { name: 'S', phone_number: '+5511955554444', email: 'S@X.io', inbox_id: sim.inboxId, source_id: 's1' })).json
      .payload.contact;
    const conv = (await api.post('conversations', { inbox_id: sim.inboxId, contact_id: contact.id, source_id: 's1' })).json.id;
    const incoming = await api.post(`conversations/${conv}/messages`, { content: 'in', message_type: 'incoming', source_id: 'WAID:S' });
    const reply = await sim.agentReply(conv, 'out', {
      inReplyTo: incoming.json.id,
      attachments: [{ fileName: 'a.png', contentType: 'image/png', data: Buffer.from([1, 2, 3]) }],
    });
    expect(reply).toMatchObject({ message_type: 1, content_attributes: { in_reply_to: incoming.json.id, in_reply_to_external_id: 'WAID:S' } });
    await api.post(`conversations/${conv}/toggle_status`, { status: 'resolved' });

    const snap = sim.snapshot();
    expect(snap.contacts).toEqual([{ id: contact.id, name: 'S', phone_number: '+5511955554444', identifier: null, email: 's@x.io' }]);
    expect(snap.contactInboxes).toEqual([{ id: 1, contact_id: contact.id, inbox_id: sim.inboxId, source_id: 's1' }]);
    expect(snap.conversations).toEqual([{ id: conv, contact_id: contact.id, inbox_id: sim.inboxId, status: 'resolved', contact_inbox_source_id: 's1' }]);
    expect(snap.messages.map((m) => [m.seq, m.message_type, m.content, m.source_id, m.conversation_id])).toEqual([
      [1, 'incoming', 'in', 'WAID:S', conv],
      [2, 'outgoing', 'out', null, conv],
      [3, 'activity', 'Conversation was marked resolved by Admin', null, conv],
    ]);
    expect(snap.messages[1]).toMatchObject({
      inbox_id: sim.inboxId,
      private: false,
      status: 'sent',
      created_at: Math.floor(NOW / 1000),
      attachments: [{ file_type: 'image', content_type: 'image/png', file_name: 'a.png', file_size: 3 }],
    });
    // the snapshot is a copy: mutating it changes nothing
    (snap.messages[0] as { content_attributes: Record<string, unknown> }).content_attributes.x = 1;
    expect(sim.snapshot().messages[0]?.content_attributes).toEqual({});
    // same view over HTTP
    expect((await api.get('/_sim/snapshot', { token: null })).json).toEqual(sim.snapshot());
  });

  it('keeps ids per account display_id for conversations and global for messages', async () => {
    const c = (await api.post('contacts', { name: 'x', inbox_id: sim.inboxId, source_id: 'x' })).json.payload.contact.id;
    const a = (await api.post('conversations', { inbox_id: sim.inboxId, contact_id: c, source_id: 'x' })).json.id;
    const b = (await api.post('conversations', { inbox_id: sim.inboxId, contact_id: c, source_id: 'x' })).json.id;
    await api.post(`conversations/${a}/messages`, { content: '1' });
    await api.post(`conversations/${b}/messages`, { content: '2' });
    await api.post(`conversations/${a}/messages`, { content: '3' });
    expect(sim.snapshot().messages.map((m) => [m.id, m.conversation_id])).toEqual([
      [1, a],
      [2, b],
      [3, a],
    ]);
  });
});

describe('HTTP control plane', () => {
  let hook: WebhookReceiver;
  beforeEach(async () => {
    hook = await startWebhookReceiver();
  });
  afterEach(async () => hook.close());

  it('sets the inbox webhook and simulates agent replies for out-of-process tests', async () => {
    const config = (await api.get('/_sim/config', { token: null })).json;
    expect(config).toEqual({
      url: sim.url,
      accountId: sim.accountId,
      inboxId: sim.inboxId,
      token: sim.token,
      agentToken: sim.agentToken,
      botToken: sim.botToken,
    });
    expect((await api.post('/_sim/inbox-webhook', { url: hook.url, secret: 'k' }, { token: null })).status).toBe(200);
    const inbox = await api.get(`inboxes/${sim.inboxId}`);
    expect(inbox.json).toMatchObject({ webhook_url: hook.url, secret: 'k' });
    const c = (await api.post('contacts', { name: 'x', inbox_id: sim.inboxId, source_id: 'x' })).json.payload.contact.id;
    const conv = (await api.post('conversations', { inbox_id: sim.inboxId, contact_id: c, source_id: 'x' })).json.id;
    const reply = await api.post('/_sim/agent-reply', { conversation_id: conv, content: 'hello' }, { token: null });
    expect(reply.json).toMatchObject({ content: 'hello', message_type: 1, sender: { type: 'user' } });
    await hook.waitFor((all) => all.some((w) => w.body?.event === 'message_created'));
    const missing = await api.post('/_sim/agent-reply', { conversation_id: 999, content: 'x' }, { token: null });
    expect(missing.status).toBe(422);
  });

  it('lets an administrator set webhook_url through PATCH /inboxes/:id', async () => {
    const res = await api.patch(`inboxes/${sim.inboxId}`, { channel: { webhook_url: hook.url } });
    expect(res.status).toBe(200);
    expect(res.json.webhook_url).toBe(hook.url);
    const c = (await api.post('contacts', { name: 'x', inbox_id: sim.inboxId, source_id: 'x' })).json.payload.contact.id;
    await api.post('conversations', { inbox_id: sim.inboxId, contact_id: c, source_id: 'x' });
    await hook.waitFor((all) => all.some((w) => w.body?.event === 'conversation_created'));
  });
});
