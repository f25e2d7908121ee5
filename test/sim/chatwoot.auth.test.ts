import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { simClient, type SimClient } from '../../sim/chatwoot/test-client.js';

let sim: ChatwootSim;
let api: SimClient;
let conversationId: number;

beforeAll(async () => {
  sim = await createChatwootSim({ seed: 11 });
  api = simClient(sim);
  const contact = await api.post('contacts', { name: 'A', phone_number: '+5511900000001', inbox_id: sim.inboxId, source_id: 'a1' });
  const conv = await api.post('conversations', { inbox_id: sim.inboxId, contact_id: contact.json.payload.contact.id, source_id: 'a1' });
  conversationId = conv.json.id;
});
afterAll(async () => sim.close());

describe('authentication', () => {
  it('answers 401 with the Devise message when no token is sent', async () => {
    const res = await api.get('contacts', { token: null });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ errors: ['You need to sign in or sign up before continuing.'] });
  });

  it('answers 401 Invalid Access Token for an unknown token', async () => {
    const res = await api.get('conversations', { token: 'nope' });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: 'Invalid Access Token' });
  });

  it('accepts the token in the dashed header spelling too', async () => {
    const res = await api.get('inboxes', { token: null, headers: { 'api-access-token': sim.token } });
    expect(res.status).toBe(200);
  });

  it('refuses bot tokens outside the allow-list, before even looking at the account', async () => {
    for (const path of ['contacts', 'contacts/search?q=1', `conversations/${conversationId}/messages`, 'inboxes']) {
      const res = await api.get(path, { token: sim.botToken });
      expect(res.status, path).toBe(401);
      expect(res.json).toEqual({ error: 'Access to this endpoint is not authorized for bots' });
    }
    const patch = await api.patch(`conversations/${conversationId}/messages/1`, { status: 'read' }, { token: sim.botToken });
    expect(patch.status).toBe(401);
    const foreign = await api.get('/api/v1/accounts/999/contacts', { token: sim.botToken });
    expect(foreign.json).toEqual({ error: 'Access to this endpoint is not authorized for bots' });
  });

  it('lets bot tokens create messages and toggle status', async () => {
    const msg = await api.post(`conversations/${conversationId}/messages`, { content: 'from bot' }, { token: sim.botToken });
    expect(msg.status).toBe(200);
    expect(msg.json.sender).toMatchObject({ type: 'agent_bot' });
    const toggle = await api.post(`conversations/${conversationId}/toggle_status`, { status: 'open' }, { token: sim.botToken });
    expect(toggle.status).toBe(200);
  });

  it('answers 404 for an account that does not exist and 401 for one the user is not in', async () => {
    const missing = await api.get('/api/v1/accounts/999/contacts');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: 'Resource could not be found' });
    const other = await api.get(`/api/v1/accounts/${sim.accountId + 1}/contacts`);
    expect(other.status).toBe(401);
    expect(other.json).toEqual({ error: 'You are not authorized to access this account' });
  });

  it('answers 404 "Resource could not be found" for unknown ids', async () => {
    for (const path of ['contacts/424242', 'conversations/424242', `conversations/${conversationId}/messages/424242`, 'inboxes/99']) {
      const res = path.includes('/messages/')
        ? await api.patch(path, { status: 'read' })
        : await api.get(path);
      expect(res.status, path).toBe(404);
      expect(res.json).toEqual({ error: 'Resource could not be found' });
    }
  });

  it('denies agents outside an inbox with 401 (Pundit), never 403', async () => {
    const webInboxId = 2;
    const contact = await api.post('contacts', { name: 'W', inbox_id: webInboxId });
    const conv = await api.post('conversations', {
      inbox_id: webInboxId,
      contact_id: contact.json.payload.contact.id,
      source_id: contact.json.payload.contact_inbox.source_id,
    });
    expect(conv.status).toBe(200);
    const asAgent = await api.get(`conversations/${conv.json.id}`, { token: sim.agentToken });
    expect(asAgent.status).toBe(401);
    expect(asAgent.json).toEqual({ error: 'You are not authorized to do this action' });
    const inboxPatch = await api.patch(`inboxes/${sim.inboxId}`, { channel: { webhook_url: 'http://x' } }, { token: sim.agentToken });
    expect(inboxPatch.status).toBe(401);
    const listed = await api.get('inboxes', { token: sim.agentToken });
    expect(listed.json.payload.map((i: { id: number }) => i.id)).toEqual([sim.inboxId]);
  });

  it('shows the inbox secret and hmac_token to administrators only', async () => {
    const signed = await createChatwootSim({ secret: 'shh' });
    try {
      const c = simClient(signed);
      const admin = await c.get(`inboxes/${signed.inboxId}`);
      expect(admin.json).toMatchObject({ channel_type: 'Channel::Api', secret: 'shh', webhook_url: null });
      expect(typeof admin.json.inbox_identifier).toBe('string');
      const agent = await c.get(`inboxes/${signed.inboxId}`, { token: signed.agentToken });
      expect(agent.status).toBe(200);
      expect(agent.json).not.toHaveProperty('secret');
      expect(agent.json).not.toHaveProperty('hmac_token');
    } finally {
      await signed.close();
    }
  });
});
