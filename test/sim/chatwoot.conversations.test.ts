import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { simClient, type SimClient } from '../../sim/chatwoot/test-client.js';

let sim: ChatwootSim;
let api: SimClient;
let contactId: number;

beforeEach(async () => {
  // A clock that advances 1 ms per reading keeps "newest activity first" free of same-ms ties.
  let t = Date.now();
  sim = await createChatwootSim({ seed: 5, clock: () => (t += 1) });
  api = simClient(sim);
  contactId = (await api.post('contacts', { name: 'Ana', phone_number: '+5511977776666', inbox_id: sim.inboxId, source_id: '5511977776666' }))
    .json.payload.contact.id;
});
afterEach(async () => sim.close());

const create = (body: Record<string, unknown> = {}) =>
  api.post('conversations', { inbox_id: sim.inboxId, contact_id: contactId, source_id: '5511977776666', ...body });

describe('conversation create', () => {
  it('always creates a new conversation with per-account display ids', async () => {
    const a = await create();
    const b = await create();
    expect(a.status).toBe(200);
    expect([a.json.id, b.json.id]).toEqual([1, 2]);
    expect(a.json).toMatchObject({
      status: 'open',
      inbox_id: sim.inboxId,
      account_id: sim.accountId,
      messages: [],
      meta: { sender: { id: contactId, phone_number: '+5511977776666' }, channel: 'Channel::Api', hmac_verified: false },
    });
    expect(typeof a.json.updated_at).toBe('number');
    expect(sim.snapshot().conversations.map((c) => c.contact_inbox_source_id)).toEqual(['5511977776666', '5511977776666']);
  });

  it('returns the last conversation instead when the inbox locks to a single conversation', async () => {
    await api.patch(`inboxes/${sim.inboxId}`, { lock_to_single_conversation: true });
    const a = await create();
    await api.post(`conversations/${a.json.id}/toggle_status`, { status: 'resolved' });
    const b = await create();
    expect(b.json.id).toBe(a.json.id);
    expect(b.json.status).toBe('resolved');
  });

  it('creates a fresh contact_inbox per call without a source_id, and supports the legacy source_id-only lookup', async () => {
    await api.post('conversations', { inbox_id: sim.inboxId, contact_id: contactId });
    await api.post('conversations', { inbox_id: sim.inboxId, contact_id: contactId });
    expect(sim.snapshot().contactInboxes).toHaveLength(3);
    const legacy = await api.post('conversations', { source_id: '5511977776666' });
    expect(legacy.status).toBe(200);
    expect(legacy.json.meta.sender.id).toBe(contactId);
    const missing = await api.post('conversations', { source_id: 'nobody' });
    expect(missing.status).toBe(404);
  });

  it('answers 422 "source_id should be unique" when the source_id belongs to another contact', async () => {
    const other = (await api.post('contacts', { name: 'Other' })).json.payload.contact.id;
    const res = await api.post('conversations', { inbox_id: sim.inboxId, contact_id: other, source_id: '5511977776666' });
    expect(res.status).toBe(422);
    expect(res.json).toEqual({ error: 'source_id should be unique' });
  });

  it('answers 500 for an invalid status (unrescued enum error)', async () => {
    expect((await create({ status: 'closed' })).status).toBe(500);
    expect((await create({ status: 'pending' })).json.status).toBe('pending');
  });
});

describe('conversation list', () => {
  it('defaults to status=open and wraps the result in data', async () => {
    const open = await create();
    const resolved = await create();
    await api.post(`conversations/${resolved.json.id}/toggle_status`, { status: 'resolved' });
    const res = await api.get('conversations');
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual(['data']);
    expect(res.json.data.meta).toEqual({ mine_count: 0, assigned_count: 0, unassigned_count: 1, all_count: 1 });
    expect(res.json.data.payload.map((c: { id: number }) => c.id)).toEqual([open.json.id]);
    const all = await api.get(`conversations?status=all&inbox_id=${sim.inboxId}`);
    expect(all.json.data.payload).toHaveLength(2);
  });

  it('filters by contact_inboxes.source_id and pages by 25', async () => {
    for (let i = 0; i < 26; i++) await create();
    const other = (await api.post('contacts', { name: 'B', inbox_id: sim.inboxId, source_id: 'b-src' })).json.payload.contact.id;
    await api.post('conversations', { inbox_id: sim.inboxId, contact_id: other, source_id: 'b-src' });
    const bySource = await api.get('conversations?source_id=b-src&status=all');
    expect(bySource.json.data.payload.map((c: { meta: { sender: { id: number } } }) => c.meta.sender.id)).toEqual([other]);
    const page1 = await api.get('conversations');
    const page2 = await api.get('conversations?page=2');
    expect(page1.json.data.payload).toHaveLength(25);
    expect(page2.json.data.payload).toHaveLength(2);
    expect(page1.json.data.meta.all_count).toBe(27);
  });

  it('lists a contact\'s conversations newest activity first under payload', async () => {
    const a = await create();
    const b = await create();
    await api.post(`conversations/${a.json.id}/messages`, { content: 'bump', message_type: 'incoming' });
    const res = await api.get(`contacts/${contactId}/conversations`);
    expect(res.json.payload.map((c: { id: number }) => c.id)).toEqual([a.json.id, b.json.id]);
  });
});

describe('toggle_status', () => {
  it('toggles open⇄resolved without a status and reports the documented shape', async () => {
    const conv = await create();
    const first = await api.post(`conversations/${conv.json.id}/toggle_status`);
    expect(first.json).toEqual({
      meta: {},
      payload: { success: true, conversation_id: conv.json.id, current_status: 'resolved', snoozed_until: null },
    });
    const second = await api.post(`conversations/${conv.json.id}/toggle_status`, {});
    expect(second.json.payload.current_status).toBe('open');
    await api.post(`conversations/${conv.json.id}/toggle_status`, { status: 'pending' });
    const third = await api.post(`conversations/${conv.json.id}/toggle_status`);
    expect(third.json.payload.current_status).toBe('open');
    const activity = sim.snapshot().messages.filter((m) => m.message_type === 'activity').map((m) => m.content);
    expect(activity[0]).toBe('Conversation was marked resolved by Admin');
  });

  it('assigns the conversation to an agent-role user who reopens it', async () => {
    const conv = await create({ status: 'resolved' });
    await api.post(`conversations/${conv.json.id}/toggle_status`, { status: 'open' }, { token: sim.agentToken });
    const shown = await api.get(`conversations/${conv.json.id}`);
    expect(shown.json.meta.assignee).toMatchObject({ id: 2, role: 'agent' });
  });

  it('reopens a resolved or snoozed conversation on an incoming message, not on an outgoing one', async () => {
    const conv = await create({ status: 'resolved' });
    await api.post(`conversations/${conv.json.id}/messages`, { content: 'agent', message_type: 'outgoing' });
    expect(sim.snapshot().conversations[0]?.status).toBe('resolved');
    await api.post(`conversations/${conv.json.id}/messages`, { content: 'customer', message_type: 'incoming' });
    expect(sim.snapshot().conversations[0]?.status).toBe('open');
    await api.post(`conversations/${conv.json.id}/toggle_status`, { status: 'snoozed', snoozed_until: 4102444800 });
    await api.post(`conversations/${conv.json.id}/messages`, { content: 'again', message_type: 'incoming' });
    expect(sim.snapshot().conversations[0]?.status).toBe('open');
  });
});
