import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { simClient, type SimClient } from '../../sim/chatwoot/test-client.js';

let sim: ChatwootSim;
let api: SimClient;
let conv: number;
let now: number;

beforeEach(async () => {
  now = Date.now();
  sim = await createChatwootSim({ seed: 9, conversationMessagePerMinuteLimit: 30, clock: () => now });
  api = simClient(sim);
  const contact = await api.post('contacts', { name: 'C', phone_number: '+5511966665555', inbox_id: sim.inboxId, source_id: 'c1' });
  conv = (await api.post('conversations', { inbox_id: sim.inboxId, contact_id: contact.json.payload.contact.id, source_id: 'c1' })).json.id;
});
afterEach(async () => sim.close());

const post = (body: Record<string, unknown>) => api.post(`conversations/${conv}/messages`, body);

describe('message create', () => {
  it('stores the same source_id twice (no dedup) and answers with integer type and unix time', async () => {
    const a = await post({ content: 'hi', message_type: 'incoming', source_id: 'WAID:1' });
    const b = await post({ content: 'hi', message_type: 'incoming', source_id: 'WAID:1' });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.json.id).toBeGreaterThan(a.json.id);
    expect(a.json).toMatchObject({
      content: 'hi',
      conversation_id: conv,
      inbox_id: sim.inboxId,
      message_type: 0,
      content_type: 'text',
      status: 'sent',
      private: false,
      source_id: 'WAID:1',
      created_at: Math.floor(now / 1000),
      sender: { type: 'contact' },
    });
    expect(a.json).not.toHaveProperty('attachments');
    expect(sim.snapshot().messages.filter((m) => m.source_id === 'WAID:1')).toHaveLength(2);
    const listed = (await api.get(`conversations/${conv}/messages`)).json.payload;
    expect(listed.map((m: { id: number; source_id: string }) => [m.id, m.source_id])).toEqual([
      [a.json.id, 'WAID:1'],
      [b.json.id, 'WAID:1'],
    ]);
  });

  it('resolves in_reply_to_external_id inside the conversation and nulls both keys when not found', async () => {
    const quoted = await post({ content: 'original', message_type: 'incoming', source_id: 'WAID:Q' });
    const reply = await post({ content: 're', content_attributes: { in_reply_to_external_id: 'WAID:Q' } });
    expect(reply.json.content_attributes).toEqual({ in_reply_to: quoted.json.id, in_reply_to_external_id: 'WAID:Q' });
    const byId = await post({ content: 're2', content_attributes: JSON.stringify({ in_reply_to: quoted.json.id }) });
    expect(byId.json.content_attributes).toEqual({ in_reply_to: quoted.json.id, in_reply_to_external_id: 'WAID:Q' });
    const missing = await post({ content: 're3', content_attributes: { in_reply_to_external_id: 'WAID:nope', other: 1 } });
    expect(missing.json.content_attributes).toEqual({ in_reply_to: null, in_reply_to_external_id: null, other: 1 });
  });

  it('refuses the message past the per-conversation flood limit with 422 and accepts again a minute later', async () => {
    for (let i = 0; i < 30; i++) expect((await post({ content: `m${i}`, message_type: 'incoming' })).status).toBe(200);
    const refused = await post({ content: 'one too many', message_type: 'incoming' });
    expect(refused.status).toBe(422);
    expect(refused.json).toEqual({ error: 'Validation failed: Too many messages' });
    expect(sim.snapshot().messages).toHaveLength(30);
    now += 60_001;
    expect((await post({ content: 'later' })).status).toBe(200);
  });

  it('enforces the 150000-character limit and the enum values', async () => {
    const long = await post({ content: 'x'.repeat(150_001) });
    expect(long.status).toBe(422);
    expect(long.json.error).toBe('Validation failed: Content is too long (maximum is 150000 characters)');
    expect((await post({ content: 'x'.repeat(150_000) })).status).toBe(200);
    const bad = await post({ content: 'x', message_type: 'sideways' });
    expect(bad.json).toEqual({ error: "'sideways' is not a valid message_type" });
  });

  it('refuses incoming messages outside API inboxes', async () => {
    const c = await api.post('contacts', { name: 'web', inbox_id: 2 });
    const webConv = await api.post('conversations', { inbox_id: 2, contact_id: c.json.payload.contact.id, source_id: c.json.payload.contact_inbox.source_id });
    const res = await api.post(`conversations/${webConv.json.id}/messages`, { content: 'x', message_type: 'incoming' });
    expect(res.status).toBe(422);
    expect(res.json).toEqual({ error: 'Incoming messages are only allowed in Api inboxes' });
    const patch = await api.patch(`conversations/${webConv.json.id}/messages/1`, { status: 'read' });
    expect(patch.status).toBe(403);
    expect(patch.json).toEqual({ error: 'Message status update is only allowed for API inboxes' });
  });

  it('accepts multipart with attachments[] and derives file_type from each part Content-Type', async () => {
    const form = new FormData();
    form.append('content', 'caption');
    form.append('message_type', 'incoming');
    form.append('private', 'false');
    form.append('source_id', 'WAID:MEDIA');
    form.append('content_attributes', JSON.stringify({ external_echo: false }));
    const parts: Array<[string, string]> = [
      ['image/jpeg', 'photo.jpg'],
      ['image/webp', 'sticker.webp'],
      ['image/heic', 'photo.heic'],
      ['image/svg+xml', 'logo.svg'],
      ['audio/ogg; codecs=opus', 'voice.ogg'],
      ['video/mp4', 'clip.mp4'],
      ['video/3gpp', 'clip.3gp'],
      ['application/pdf', 'doc.pdf'],
    ];
    for (const [type, name] of parts) form.append('attachments[]', new Blob([Buffer.from(`data:${name}`)], { type }), name);
    const res = await api.post(`conversations/${conv}/messages`, form);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ content: 'caption', message_type: 0, source_id: 'WAID:MEDIA', content_attributes: { external_echo: false } });
    expect(res.json.attachments.map((a: { file_type: string }) => a.file_type)).toEqual([
      'image', 'image', 'file', 'file', 'audio', 'video', 'file', 'file',
    ]);
    const snap = sim.snapshot().messages.at(-1);
    expect(snap?.attachments[0]).toEqual({ file_type: 'image', content_type: 'image/jpeg', file_name: 'photo.jpg', file_size: 'data:photo.jpg'.length });
    // data_url is a redirect to the bytes, as ActiveStorage does it
    const redirect = await fetch(res.json.attachments[0].data_url, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const followed = await fetch(res.json.attachments[0].data_url);
    expect(Buffer.from(await followed.arrayBuffer()).toString()).toBe('data:photo.jpg');
  });

  it('refuses more than 15 attachments', async () => {
    const form = new FormData();
    for (let i = 0; i < 16; i++) form.append('attachments[]', new Blob(['x'], { type: 'text/plain' }), `${i}.txt`);
    const res = await api.post(`conversations/${conv}/messages`, form);
    expect(res.status).toBe(422);
    expect(sim.snapshot().messages).toHaveLength(0);
  });
});

describe('message list', () => {
  it('pages with before/after the way MessageFinder does, always ascending', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) ids.push((await post({ content: `m${i}`, message_type: 'incoming' })).json.id);
    const list = async (q = '') => (await api.get(`conversations/${conv}/messages${q}`)).json.payload.map((m: { id: number }) => m.id);
    expect(await list()).toEqual(ids.slice(5));
    expect(await list(`?before=${ids[10]}`)).toEqual(ids.slice(0, 10));
    expect(await list(`?after=${ids[20]}`)).toEqual(ids.slice(21));
    expect(await list(`?after=${ids[3]}&before=${ids[6]}`)).toEqual(ids.slice(3, 6));
    const res = await api.get(`conversations/${conv}/messages`);
    expect(res.json.meta).toMatchObject({ labels: [], contact: { type: 'contact', phone_number: '+5511966665555' } });
  });

  it('can hide private notes and activity messages', async () => {
    await post({ content: 'note', private: true });
    await api.post(`conversations/${conv}/toggle_status`, { status: 'resolved' });
    await post({ content: 'hello', message_type: 'incoming' });
    const all = (await api.get(`conversations/${conv}/messages`)).json.payload;
    expect(all.map((m: { message_type: number }) => m.message_type)).toEqual([1, 2, 0, 2]);
    const chat = (await api.get(`conversations/${conv}/messages?filter_internal_messages=1`)).json.payload;
    expect(chat.map((m: { content: string }) => m.content)).toEqual(['hello']);
  });
});

describe('message status, delete and retry', () => {
  it('applies the PATCH status rules', async () => {
    const id = (await post({ content: 'out' })).json.id;
    const path = `conversations/${conv}/messages/${id}`;
    const failed = await api.patch(path, { status: 'failed', external_error: '131026: undeliverable' });
    expect(failed.json).toMatchObject({ status: 'failed', content_attributes: { external_error: '131026: undeliverable' } });
    const read = await api.patch(path, { status: 'read', external_error: 'ignored' });
    expect(read.json.status).toBe('read');
    expect(read.json.content_attributes.external_error).toBeNull();
    const back = await api.patch(path, { status: 'delivered' });
    expect(back.status).toBe(200);
    expect(back.json.status).toBe('read');
    const invalid = await api.patch(path, { status: 'seen' });
    expect(invalid.status).toBe(200);
    expect(invalid.json.status).toBe('read');
    const bot = await api.patch(path, { status: 'sent' }, { token: sim.botToken });
    expect(bot.status).toBe(401);
  });

  it('soft-deletes and retries', async () => {
    const id = (await post({ content: 'bye', content_attributes: { foo: 1 } })).json.id;
    const del = await api.delete(`conversations/${conv}/messages/${id}`);
    expect(del.json).toMatchObject({ content: 'This message was deleted', content_attributes: { deleted: true } });
    await api.patch(`conversations/${conv}/messages/${id}`, { status: 'failed', external_error: 'x' });
    const retry = await api.post(`conversations/${conv}/messages/${id}/retry`);
    expect(retry.json).toMatchObject({ status: 'sent', content_attributes: {} });
  });
});
