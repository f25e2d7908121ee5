import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { simClient, type SimClient } from '../../sim/chatwoot/test-client.js';

let sim: ChatwootSim;
let api: SimClient;

beforeEach(async () => {
  sim = await createChatwootSim({ seed: 3 });
  api = simClient(sim);
});
afterEach(async () => sim.close());

const phoneFilter = (value: string) => ({
  payload: [{ attribute_key: 'phone_number', filter_operator: 'equal_to', values: [value], query_operator: null }],
});

describe('contact uniqueness and validation', () => {
  it('rejects a duplicate phone with the RecordInvalid 422 shape', async () => {
    expect((await api.post('contacts', { name: 'A', phone_number: '+5511999999999' })).status).toBe(200);
    const dup = await api.post('contacts', { name: 'B', phone_number: '+5511999999999' });
    expect(dup.status).toBe(422);
    expect(dup.json).toEqual({ message: 'Phone number has already been taken', attributes: ['phone_number'] });
  });

  it('treats email case-insensitively and identifier exactly, joining several messages', async () => {
    await api.post('contacts', { name: 'A', email: 'Ana@Example.com', identifier: 'id-1', phone_number: '+5511988887777' });
    const dup = await api.post('contacts', { email: 'ana@example.COM', identifier: 'id-1', phone_number: '+5511988887777' });
    expect(dup.status).toBe(422);
    expect(dup.json).toEqual({
      message: 'Email has already been taken, Identifier has already been taken, Phone number has already been taken',
      attributes: ['email', 'identifier', 'phone_number'],
    });
    const otherCase = await api.post('contacts', { identifier: 'ID-1' });
    expect(otherCase.status).toBe(200);
    expect(sim.snapshot().contacts.find((c) => c.identifier === 'id-1')?.email).toBe('ana@example.com');
  });

  it('copies the E.164 regex without a start anchor', async () => {
    const bad = await api.post('contacts', { phone_number: '5511999999999' });
    expect(bad.status).toBe(422);
    expect(bad.json).toEqual({ message: 'Phone number should be in e164 format', attributes: ['phone_number'] });
    expect((await api.post('contacts', { phone_number: '+55 11 99999' })).status).toBe(422);
    expect((await api.post('contacts', { phone_number: 'abc+5511999999999' })).status).toBe(200);
  });
});

describe('contact create with an inbox', () => {
  it('returns payload.contact and payload.contact_inbox, generating a uuid source_id when missing', async () => {
    const res = await api.post('contacts', { name: 'Jo', phone_number: '+5511911112222', inbox_id: sim.inboxId });
    expect(res.status).toBe(200);
    const { contact, contact_inbox } = res.json.payload;
    expect(contact).toMatchObject({ name: 'Jo', phone_number: '+5511911112222', email: null, identifier: null });
    expect(contact.contact_inboxes).toHaveLength(1);
    expect(contact_inbox.source_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(contact_inbox.inbox).toMatchObject({ id: sim.inboxId, channel_type: 'Channel::Api', account_id: sim.accountId });
    const none = await api.post('contacts', { name: 'No inbox' });
    expect(none.json.payload.contact_inbox).toEqual({ inbox: null, source_id: null });
  });

  it('answers 500 and rolls the contact back when the source_id belongs to another contact', async () => {
    await api.post('contacts', { name: 'First', inbox_id: sim.inboxId, source_id: '5511' });
    const res = await api.post('contacts', { name: 'Second', phone_number: '+5511933334444', inbox_id: sim.inboxId, source_id: '5511' });
    expect(res.status).toBe(500);
    const snap = sim.snapshot();
    expect(snap.contacts.map((c) => c.name)).toEqual(['First']);
    expect(snap.contactInboxes).toHaveLength(1);
    // the phone is free again because the contact was rolled back
    expect((await api.post('contacts', { phone_number: '+5511933334444' })).status).toBe(200);
  });

  it('makes POST /contacts/:id/contact_inboxes idempotent for the same triple and 500 on conflict', async () => {
    const a = (await api.post('contacts', { name: 'A' })).json.payload.contact.id;
    const b = (await api.post('contacts', { name: 'B' })).json.payload.contact.id;
    const first = await api.post(`contacts/${a}/contact_inboxes`, { inbox_id: sim.inboxId, source_id: 'wa-1' });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      source_id: 'wa-1',
      inbox: { id: sim.inboxId, avatar_url: '', channel_id: 1, name: 'WhatsApp', channel_type: 'Channel::Api', provider: null },
    });
    expect((await api.post(`contacts/${a}/contact_inboxes`, { inbox_id: sim.inboxId, source_id: 'wa-1' })).status).toBe(200);
    expect(sim.snapshot().contactInboxes).toHaveLength(1);
    expect((await api.post(`contacts/${b}/contact_inboxes`, { inbox_id: sim.inboxId, source_id: 'wa-1' })).status).toBe(500);
  });
});

describe('contact lookup', () => {
  beforeEach(async () => {
    await api.post('contacts', { name: 'Exact', phone_number: '+5511999990000', identifier: 'Exact@s.whatsapp.net' });
    await api.post('contacts', { name: 'Longer', phone_number: '+551199999000012' });
    await api.post('contacts', { name: 'No phone at all' });
  });

  it('filter equal_to on phone is exact and normalises the value to "+digits"', async () => {
    for (const value of ['+5511999990000', '5511999990000']) {
      const res = await api.post('contacts/filter', phoneFilter(value));
      expect(res.status).toBe(200);
      expect(res.json.meta).toEqual({ count: 1, current_page: 1 });
      expect(res.json.payload.map((c: { name: string }) => c.name)).toEqual(['Exact']);
    }
    const ident = await api.post('contacts/filter?page=1', {
      payload: [{ attribute_key: 'identifier', filter_operator: 'equal_to', values: ['exact@s.whatsapp.net'] }],
    });
    expect(ident.json.meta).toEqual({ count: 1, current_page: '1' });
  });

  it('search is a substring match that also finds the longer number', async () => {
    const res = await api.get('contacts/search?q=%2B5511999990000');
    expect(res.status).toBe(200);
    expect(res.json.meta).toEqual({ count: 2, current_page: 1, has_more: false });
    expect(res.json.payload.map((c: { name: string }) => c.name).sort()).toEqual(['Exact', 'Longer']);
    expect(res.json.payload[0].contact_inboxes).toEqual([]);
  });

  it('search refuses an empty q and pages by 15 with has_more', async () => {
    const empty = await api.get('contacts/search?q=%20');
    expect(empty.status).toBe(422);
    expect(empty.json).toEqual({ error: 'Specify search string with parameter q' });
    for (let i = 0; i < 16; i++) await api.post('contacts', { name: `Bulk ${i}` });
    const page1 = await api.get('contacts/search?q=bulk&page=1');
    expect(page1.json.meta).toEqual({ count: 15, current_page: '1', has_more: true });
    const page2 = await api.get('contacts/search?q=bulk&page=2');
    expect(page2.json.meta).toEqual({ count: 1, current_page: '2', has_more: false });
  });

  it('filter rejects unknown attributes and operators with 422 {error}', async () => {
    const attr = await api.post('contacts/filter', { payload: [{ attribute_key: 'shoe_size', filter_operator: 'equal_to', values: ['1'] }] });
    expect(attr.status).toBe(422);
    expect(attr.json.error).toMatch(/^Invalid attribute key - \[shoe_size\]/);
    const op = await api.post('contacts/filter', { payload: [{ attribute_key: 'identifier', filter_operator: 'contains', values: ['x'] }] });
    expect(op.status).toBe(422);
    expect(op.json.error).toMatch(/^Invalid operator/);
  });

  it('filter only sees resolved contacts (with email, phone or identifier)', async () => {
    const res = await api.post('contacts/filter', {
      payload: [{ attribute_key: 'name', filter_operator: 'contains', values: ['no phone'] }],
    });
    expect(res.json.meta.count).toBe(0);
  });

  it('merges custom and additional attributes on update', async () => {
    const id = (await api.post('contacts', { name: 'M', custom_attributes: { a: 1 }, additional_attributes: { x: 1 } })).json.payload.contact.id;
    const res = await api.patch(`contacts/${id}`, { custom_attributes: { b: 2 }, additional_attributes: { y: 2 } });
    expect(res.status).toBe(200);
    expect(res.json.payload).toMatchObject({ custom_attributes: { a: 1, b: 2 }, additional_attributes: { x: 1, y: 2 } });
    const conflict = await api.put(`contacts/${id}`, { phone_number: '+5511999990000' });
    expect(conflict.status).toBe(422);
    expect(conflict.json.attributes).toEqual(['phone_number']);
  });
});
