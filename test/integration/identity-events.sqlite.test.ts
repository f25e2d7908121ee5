/**
 * WhatsApp → Chatwoot fidelity through both simulators: each Evolution LID convention, LIDs
 * without their phone, groups, Brazil's ninth digit, edits and deletes, and the conversation
 * policy. What counts is what arrives in the (faithful) Chatwoot: one contact and one conversation
 * per person, every message once, edits quoting their original, deletes applied.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import type { ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim, type LidConvention } from '../../sim/evolution/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { until } from '../helpers/lifecycle.js';

const TOKEN = 'identity-webhook-token-0123456789';
let cw: ChatwootSim | null = null;
let evo: EvolutionSim | null = null;
let app: Evosync | null = null;

afterEach(async () => {
  await app?.stop();
  await evo?.close();
  await cw?.close();
  app = evo = cw = null;
});

async function setup(opts: { convention?: LidConvention; env?: Record<string, string> } = {}) {
  cw = await createChatwootSim({ seed: 7 });
  evo = await createEvolutionSim({ instances: ['inst1'], lidConvention: opts.convention ?? '2.3.6', seed: 11, contactEvents: false });
  const config = loadConfig({
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_LOG_LEVEL: 'silent', EVOSYNC_PORT: '0', EVOSYNC_HOST: '127.0.0.1',
    EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '50', EVOSYNC_REFERENCE_WAIT_MS: '3000',
    ...opts.env,
  });
  app = await createEvosync(config, { logger: createLogger('silent') });
  const url = await app.listen();
  evo.setWebhook('inst1', { url: `${url}/webhooks/evolution`, headers: { 'x-evosync-token': TOKEN } });
  return { cw, evo, app };
}


async function settled(a: Evosync): Promise<void> {
  await until('ledger settled', async () => (await a.ledger.counts()).pending === 0);
}

const customerMessages = (s: ChatwootSim) => s.snapshot().messages.filter((m) => m.message_type === 'incoming' || m.message_type === 'outgoing');

let seq = 0;
function upsert(key: Record<string, unknown>, text: string, ts: number, over: Record<string, unknown> = {}) {
  seq += 1;
  return { key: { fromMe: false, id: `3EB0TEST${seq.toString().padStart(6, '0')}`, ...key }, pushName: 'Maria', message: { conversation: text }, messageType: 'conversation', messageTimestamp: ts, ...over };
}

describe('LID conventions (reference §2.8): one person is one Chatwoot contact and one conversation', () => {
  for (const convention of ['2.3.4', '2.3.6', '2.3.7'] as const) {
    it(`${convention}: every message of a LID-addressed chat lands in one contact with the phone, in order`, async () => {
      const { cw: c, evo: e, app: a } = await setup({ convention });
      const { messages } = await e.run({ instance: 'inst1', chats: 1, messages: 5, lidRate: 1, groupRate: 0, fromMeRate: 0.2, kinds: { text: 1 } }, { concurrency: 1 });
      await settled(a);
      const snap = c.snapshot();
      const person = messages[0]!.chat;
      expect(snap.contacts).toHaveLength(1);
      expect(snap.contacts[0]?.phone_number).toBe(`+${person.phoneJid!.split('@')[0]}`);
      expect(snap.conversations).toHaveLength(1);
      expect(customerMessages(c).map((m) => m.source_id)).toEqual(messages.sort((x, y) => x.messageTimestamp - y.messageTimestamp).map((m) => `WAID:${m.key.id}`));
      expect((await a.ledger.identityOf('inst1', person.lid!))?.phoneJid).toBe(person.phoneJid);
    });
  }

  it('@lid without its phone (#1764), then an event naming both: the LID contact is kept, gets the phone, and the lane folds in', async () => {
    const { cw: c, evo: e, app: a } = await setup();
    const lid = '118765432109876@lid';
    const pn = '5511987654321@s.whatsapp.net';
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: lid, addressingMode: 'lid' }, 'first, LID only', 1_760_000_001));
    await until('first delivered', () => customerMessages(c).length === 1);
    expect(c.snapshot().contacts.map((x) => [x.identifier, x.phone_number])).toEqual([[lid, null]]);
    // 2.3.6 raw key with the alt, then 2.3.7's swapped key, then LID-only again.
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: lid, remoteJidAlt: pn, addressingMode: 'lid' }, 'second, raw key', 1_760_000_002));
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: pn, remoteJidAlt: lid, addressingMode: 'pn' }, 'third, swapped', 1_760_000_003));
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: lid, addressingMode: 'lid' }, 'fourth, LID only', 1_760_000_004));
    await settled(a);
    const snap = c.snapshot();
    expect(snap.contacts).toHaveLength(1);
    expect(snap.contacts[0]).toMatchObject({ identifier: lid, phone_number: '+5511987654321' });
    expect(snap.conversations).toHaveLength(1);
    expect(customerMessages(c).map((m) => m.content)).toEqual(['first, LID only', 'second, raw key', 'third, swapped', 'fourth, LID only']);
    const rows = await a.ledger.listMessages({ instance: 'inst1' });
    expect(new Set(rows.map((r) => r.chat))).toEqual(new Set([pn]));
  });

  it('a contact found under the LID (made by a LID lane just before, or by another integration) gets the phone from a phone chat that finds it', async () => {
    const { cw: c, evo: e, app: a } = await setup();
    const lid = '118765432100001@lid';
    const pn = '5511987650001@s.whatsapp.net';
    // The LID lane created this contact, but its link was not in the ledger yet when the phone
    // lane (its pair just learned) looked: the phone lane finds the contact by identifier.
    const made = await fetch(`${c.url}/api/v1/accounts/${c.accountId}/contacts`, {
      method: 'POST', headers: { 'content-type': 'application/json', api_access_token: c.token },
      body: JSON.stringify({ inbox_id: c.inboxId, name: 'Maria', identifier: lid, source_id: lid }),
    });
    expect(made.status).toBe(200);
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: pn, remoteJidAlt: lid, addressingMode: 'pn' }, 'hello from the phone chat', 1_760_000_101));
    await settled(a);
    const snap = c.snapshot();
    expect(snap.contacts.map((x) => [x.identifier, x.phone_number])).toEqual([[lid, '+5511987650001']]);
    expect(customerMessages(c).map((m) => m.content)).toEqual(['hello from the phone chat']);
  });

  it('a LID chat still creating its contact when its phone chat (pair just learned) starts: one contact, not two', async () => {
    const { cw: c, evo: e, app: a } = await setup();
    const lid = '118765432100002@lid';
    const pn = '5511987650002@s.whatsapp.net';
    // Every Chatwoot call takes 300 ms: the LID chat's contact look-up and create are in flight
    // while the phone chat, its pair learned from the second event, resolves its own.
    await fetch(`${c.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 300 }) });
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: lid, addressingMode: 'lid' }, 'first, LID only', 1_760_000_201));
    await new Promise((r) => setTimeout(r, 100));
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: pn, remoteJidAlt: lid, addressingMode: 'pn' }, 'second, from the phone chat', 1_760_000_202));
    await settled(a);
    const snap = c.snapshot();
    expect(snap.contacts.map((x) => [x.identifier, x.phone_number])).toEqual([[lid, '+5511987650002']]);
    expect(snap.conversations).toHaveLength(1);
    expect(customerMessages(c).map((m) => m.content)).toEqual(['first, LID only', 'second, from the phone chat']);
  });

  it('groups: LID participants with participantAlt are one group conversation, and their pairs are learned', async () => {
    const { cw: c, evo: e, app: a } = await setup({ convention: '2.3.6' });
    const { messages } = await e.run({ instance: 'inst1', chats: 1, messages: 4, groupRate: 1, lidRate: 1, fromMeRate: 0, kinds: { text: 1 } }, { concurrency: 1 });
    await settled(a);
    expect(c.snapshot().conversations).toHaveLength(1);
    expect(customerMessages(c)).toHaveLength(4);
    const sender = messages.map((m) => m.key).find((k) => k.participant?.endsWith('@lid') && k.participantAlt);
    expect(sender).toBeDefined();
    expect((await a.ledger.identityOf('inst1', sender!.participant!))?.phoneJid).toBe(sender!.participantAlt);
  });

  it("Brazil's ninth digit: a contact saved with the 9 is found for the JID without it, and vice versa", async () => {
    const { cw: c, evo: e, app: a } = await setup();
    const post = (body: unknown) => fetch(`${c.url}/api/v1/accounts/${c.accountId}/contacts`, { method: 'POST', headers: { api_access_token: c.token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ name: 'Joana (typed by an agent)', phone_number: '+5511987651234' })).status).toBe(200);
    expect((await post({ name: 'Rui', phone_number: '+552187654321' })).status).toBe(200);
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: '551187651234@s.whatsapp.net' }, 'old JID without the 9', 1_760_000_010, { pushName: 'Joana' }));
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: '5521987654321@s.whatsapp.net' }, 'JID with the 9', 1_760_000_011, { pushName: 'Rui' }));
    // A landline has no other form: a new contact.
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: '551133334444@s.whatsapp.net' }, 'landline', 1_760_000_012, { pushName: 'Loja' }));
    await settled(a);
    const snap = c.snapshot();
    expect(snap.contacts.map((x) => x.phone_number).sort()).toEqual(['+551133334444', '+5511987651234', '+552187654321'].sort());
    expect(snap.conversations).toHaveLength(3);
  });
});

describe('edits and deletes (reference §2.4, §2.5) through the simulators', () => {
  it('an edit becomes a new message quoting the original; a revoke soft-deletes it; repeats change nothing', async () => {
    const { cw: c, evo: e, app: a } = await setup({ convention: '2.3.7' });
    const { messages } = await e.run({ instance: 'inst1', chats: 1, messages: 2, lidRate: 1, groupRate: 0, fromMeRate: 0, kinds: { text: 1 } }, { concurrency: 1 });
    await settled(a);
    const [first, second] = messages.sort((x, y) => x.messageTimestamp - y.messageTimestamp);
    await e.remoteEdit('inst1', first!.key.id, 'fixed typo');
    await settled(a);
    const original = customerMessages(c).find((m) => m.source_id === `WAID:${first!.key.id}`)!;
    const edit = await until('edit shown', () => customerMessages(c).find((m) => m.content === '✏️ Edited: fixed typo'));
    expect(edit.content_attributes['in_reply_to']).toBe(original.id);
    expect(edit.source_id).toMatch(new RegExp(`^WAID:${first!.key.id}#edit:\\d+$`));
    expect(edit.conversation_id).toBe(original.conversation_id);

    // The revoke arrives twice (MESSAGES_EDITED type REVOKE, then MESSAGES_DELETE): one delete.
    await e.remoteRevoke('inst1', second!.key.id);
    await settled(a);
    const deleted = customerMessages(c).find((m) => m.source_id === `WAID:${second!.key.id}`)!;
    expect(deleted.content).toBe('This message was deleted');
    expect(deleted.content_attributes['deleted']).toBe(true);
    const deleteRow = await a.ledger.getMessage('inst1', `${second!.key.id}#delete`);
    expect(deleteRow?.state).toBe('delivered');
    // Evolution (or a broker) redelivers the delete: the ledger knows it, Chatwoot sees no call.
    const before = c.stats().byRoute;
    await e.emit('inst1', 'messages.delete', { remoteJid: second!.key.remoteJid, fromMe: false, id: second!.key.id });
    await settled(a);
    expect(c.stats().byRoute).toEqual(before);
    expect(customerMessages(c)).toHaveLength(3);
  });

  it('a delete that arrives before its message waits for it, then deletes it once delivered; the API-delete shape works too', async () => {
    const { cw: c, evo: e, app: a } = await setup();
    const early = upsert({ remoteJid: '5511955554444@s.whatsapp.net' }, 'deleted before we saw it', Math.floor(Date.now() / 1000) - 5);
    await e.emit('inst1', 'messages.delete', early.key);
    await new Promise((r) => setTimeout(r, 300));
    const pendingDelete = await a.ledger.getMessage('inst1', `${early.key.id}#delete`);
    expect(pendingDelete?.lastError ?? '').toMatch(/not received yet/);
    expect(pendingDelete?.state).toBe('pending');
    await e.emit('inst1', 'messages.upsert', early);
    await settled(a);
    const m = customerMessages(c).find((x) => x.source_id === `WAID:${early.key.id}`);
    expect(m?.content).toBe('This message was deleted');

    // DELETE /chat/deleteMessageForEveryone: MESSAGES_DELETE carries the whole stored row.
    const { messages } = await e.run({ instance: 'inst1', chats: 1, messages: 1, lidRate: 0, groupRate: 0, fromMeRate: 1, kinds: { text: 1 } }, { concurrency: 1 });
    await settled(a);
    const k = messages[0]!.key;
    const res = await fetch(`${e.url}/chat/deleteMessageForEveryone/inst1`, { method: 'DELETE', headers: { apikey: e.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ id: k.id, remoteJid: k.remoteJid, fromMe: true }) });
    expect(res.status).toBe(201);
    // Evolution emits it in the background, after answering.
    await until('API delete ingested', () => a.ledger.getMessage('inst1', `${k.id}#delete`));
    await settled(a);
    expect(customerMessages(c).find((x) => x.source_id === `WAID:${k.id}`)?.content).toBe('This message was deleted');
  });

  it('an edit of a message evosync never receives is skipped with its reason after the bounded wait, and the chat moves on', async () => {
    const { cw: c, evo: e, app: a } = await setup({ env: { EVOSYNC_REFERENCE_WAIT_MS: '400' } });
    await e.emit('inst1', 'messages.edited', { key: { remoteJid: '5511900001111@s.whatsapp.net', fromMe: true, id: 'NEVER-SEEN' }, type: 'MESSAGE_EDIT', editedMessage: { conversation: 'x' }, timestampMs: String(Date.now()) });
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: '5511900001111@s.whatsapp.net' }, 'after it', Math.floor(Date.now() / 1000) + 5));
    await settled(a);
    const rows = await a.ledger.listMessages({ instance: 'inst1' });
    const edit = rows.find((r) => r.event === 'messages.edited');
    expect(edit?.state).toBe('skipped');
    expect(edit?.lastError).toMatch(/NEVER-SEEN\) was never received/);
    expect(customerMessages(c).map((m) => m.content)).toEqual(['after it']);
  });
});

describe('conversation policy (EVOSYNC_CONVERSATION_REOPEN / _STATUS)', () => {
  const resolve = async (c: ChatwootSim, id: number) => {
    const r = await fetch(`${c.url}/api/v1/accounts/${c.accountId}/conversations/${id}/toggle_status`, { method: 'POST', headers: { api_access_token: c.token, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'resolved' }) });
    expect(r.status).toBe(200);
  };

  it('default: a resolved conversation stays closed and the next message starts a new, open one', async () => {
    const { cw: c, evo: e, app: a } = await setup({ env: { EVOSYNC_CONVERSATION_CHECK_MS: '0' } });
    const jid = '5511944443333@s.whatsapp.net';
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: jid }, 'one', 1_760_000_100));
    await settled(a);
    await resolve(c, c.snapshot().conversations[0]!.id);
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: jid }, 'two', 1_760_000_101));
    await settled(a);
    const convs = c.snapshot().conversations;
    expect(convs.map((x) => x.status)).toEqual(['resolved', 'open']);
    expect(c.snapshot().contacts).toHaveLength(1);
  });

  it('reopen=true, status=pending: new conversations start pending, and a resolved one is reused and set pending', async () => {
    const { cw: c, evo: e, app: a } = await setup({ env: { EVOSYNC_CONVERSATION_CHECK_MS: '0', EVOSYNC_CONVERSATION_REOPEN: 'true', EVOSYNC_CONVERSATION_STATUS: 'pending' } });
    const jid = '5511944442222@s.whatsapp.net';
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: jid }, 'one', 1_760_000_200));
    await settled(a);
    expect(c.snapshot().conversations.map((x) => x.status)).toEqual(['pending']);
    await resolve(c, c.snapshot().conversations[0]!.id);
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: jid }, 'two', 1_760_000_201));
    await settled(a);
    const convs = c.snapshot().conversations;
    expect(convs).toHaveLength(1);
    expect(convs[0]?.status).toBe('pending');
    expect(customerMessages(c).map((m) => [m.content, m.conversation_id])).toEqual([['one', convs[0]!.id], ['two', convs[0]!.id]]);
  });
});

describe('regressions found by the fidelity acceptance run (test/e2e/fidelity.sqlite.test.ts)', () => {
  it('a LID contact gets its phone even when Chatwoot fails the update once (it was fire-and-forget, never retried)', async () => {
    const { cw: c, evo: e, app: a } = await setup();
    const lid = '118700000000001@lid';
    const pn = '5511987650001@s.whatsapp.net';
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: lid, addressingMode: 'lid' }, 'first, LID only', 1_760_000_301));
    await settled(a);
    expect(c.snapshot().contacts.map((x) => x.phone_number)).toEqual([null]);
    // Every Chatwoot request fails while the next message (naming the phone) is first attempted.
    c.setFaults({ errorRate: 1 });
    await e.emit('inst1', 'messages.upsert', upsert({ remoteJid: lid, remoteJidAlt: pn, addressingMode: 'lid' }, 'second, with the phone', 1_760_000_302));
    await until('an attempt failed', async () => ((await a.ledger.listMessages({ instance: 'inst1', state: 'pending' }))[0]?.attempts ?? 0) > 0);
    c.setFaults({ errorRate: 0 });
    await settled(a);
    expect(customerMessages(c).map((m) => m.content)).toEqual(['first, LID only', 'second, with the phone']);
    expect(c.snapshot().contacts.map((x) => [x.identifier, x.phone_number])).toEqual([[lid, '+5511987650001']]);
  });

  it("read and delivered receipts that overtake their message by more than 3 s both wait for it: the message shows read", { timeout: 20_000 }, async () => {
    const { cw: c, evo: e, app: a } = await setup();
    const jid = '5511987650002@s.whatsapp.net';
    const own = upsert({ remoteJid: jid, fromMe: true }, 'typed on the phone', Math.floor(Date.now() / 1000) - 30);
    const receipt = (status: string) => ({ keyId: own.key.id, remoteJid: jid, fromMe: true, participant: null, status, instanceId: e.instanceId('inst1') });
    // Evolution handles receipts beside its upsert queue: both arrive while it still downloads media.
    await e.emit('inst1', 'messages.update', receipt('READ'));
    await e.emit('inst1', 'messages.update', receipt('DELIVERY_ACK'));
    await new Promise((r) => setTimeout(r, 4_000));
    // Retry times are whole milliseconds (PostgreSQL's bigint refused the fractions a wait produced).
    const waiting = await a.ledger.listMessages({ instance: 'inst1', state: 'pending' });
    expect(waiting.map((r) => Number.isInteger(r.nextAttemptAt))).toEqual([true, true]);
    await e.emit('inst1', 'messages.upsert', own);
    await settled(a);
    expect(customerMessages(c).map((m) => [m.content, m.status])).toEqual([['typed on the phone', 'read']]);
    const statuses = (await a.ledger.listMessages({ instance: 'inst1' })).filter((r) => r.event === 'messages.update').map((r) => [r.waId.split(':').pop(), r.state]);
    expect(statuses).toEqual([['READ', 'delivered'], ['DELIVERY_ACK', 'skipped']]);
  });
});
