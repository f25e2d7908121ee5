import { afterEach, describe, expect, it } from 'vitest';
import { replyKey } from '../../src/domain/agent-reply.js';
import { agentRig, type AgentRig, conversationFor, INSTANCE, until, webhooksIdle } from '../helpers/agent-replies.js';

let rig: AgentRig | null = null;
afterEach(async () => {
  await rig?.close();
  rig = null;
});

const textOf = (m: { message: Record<string, unknown> }): string => {
  const msg = m.message as { conversation?: string; extendedTextMessage?: { text?: string }; imageMessage?: { caption?: string }; documentMessage?: { caption?: string } };
  return msg.conversation ?? msg.extendedTextMessage?.text ?? msg.imageMessage?.caption ?? msg.documentMessage?.caption ?? '';
};
const cwMessage = (r: AgentRig, id: number) => r.cw.snapshot().messages.find((m) => m.id === id);

describe('Chatwoot → WhatsApp: agent replies', () => {
  it('sends each reply once, in WhatsApp formatting and with its quote; skips the echo; never sends private notes; passes statuses back', async () => {
    rig = await agentRig();
    const r = rig;
    const { chat, conversationId } = await conversationFor(r.api, '5511988880001');
    const first = await r.cw.agentReply(conversationId, 'Olá! **Posso ajudar?**');
    await r.cw.agentReply(conversationId, 'internal: do not send', { private: true });
    const second = await r.cw.agentReply(conversationId, 'Segue ~~isto~~ _aquilo_', { inReplyTo: first['id'] as number });

    const sent = await until('two sends', () => (r.evo.sent(INSTANCE).length >= 2 ? r.evo.sent(INSTANCE) : null));
    await webhooksIdle(r);
    expect(sent.map(textOf)).toEqual(['Olá! *Posso ajudar?*', 'Segue ~isto~ _aquilo_']);
    expect(sent.every((m) => m.key.remoteJid === chat && m.key.fromMe)).toBe(true);
    // The quote points at the first reply's WhatsApp id, learnt from the ledger.
    expect((sent[1]?.contextInfo as { stanzaId?: string } | null)?.stanzaId).toBe(sent[0]?.key.id);

    // The echo (send.message) of each send is recognised and skipped, not posted to Chatwoot.
    for (const m of sent) {
      const echo = await until(`echo of ${m.key.id}`, async () => {
        const row = await r.app.ledger.getMessage(INSTANCE, m.key.id);
        return row && row.state !== 'pending' ? row : null;
      });
      expect(echo).toMatchObject({ state: 'skipped', lastError: 'echo of agent reply' });
    }
    // "sent" at once, then delivered and read from Evolution's receipts (never backwards).
    const firstId = first['id'] as number;
    await until('sent status', () => cwMessage(r, firstId)?.status === 'sent');
    const waId = sent[0]!.key.id;
    await r.evo.receipt(INSTANCE, waId, 'DELIVERY_ACK');
    await until('delivered', () => cwMessage(r, firstId)?.status === 'delivered');
    await r.evo.receipt(INSTANCE, waId, 'READ');
    await until('read', () => cwMessage(r, firstId)?.status === 'read');
    // Evolution's own SERVER_ACK is the same lane item as the "sent" evosync queued: a duplicate.
    await r.evo.receipt(INSTANCE, waId, 'SERVER_ACK');
    await r.evo.receipt(INSTANCE, waId, 'PLAYED');
    await until('late receipt settled', async () => (await r.app.ledger.getMessage(INSTANCE, `${waId}#status:PLAYED`))?.state === 'skipped');
    expect((await r.app.ledger.listMessages({ instance: INSTANCE, chat })).filter((x) => x.waId.startsWith(`${waId}#status:`)).map((x) => [x.waId.split(':').pop(), x.state])).toEqual([
      ['SERVER_ACK', 'delivered'], ['DELIVERY_ACK', 'delivered'], ['READ', 'delivered'], ['PLAYED', 'skipped'],
    ]);
    expect(cwMessage(r, firstId)?.status).toBe('read');

    // Nothing of WhatsApp's went back into Chatwoot as a new message; the private note stayed private.
    const snapshot = r.cw.snapshot().messages.filter((m) => m.conversation_id === conversationId);
    expect(snapshot.map((m) => [m.message_type, m.private])).toEqual([['outgoing', false], ['outgoing', true], ['outgoing', false]]);
    expect(r.evo.sent(INSTANCE)).toHaveLength(2);
    const rows = await r.app.ledger.listMessages({ instance: INSTANCE, direction: 'to_whatsapp' });
    expect(rows.map((x) => [x.waId, x.state])).toEqual([[replyKey(firstId), 'delivered'], [replyKey(second['id'] as number), 'delivered']]);
  });

  it('exactly once with ambiguous send failures and duplicated webhooks, and no duplicate in the ledger', async () => {
    rig = await agentRig({ seed: 11 });
    const r = rig;
    r.evo.setSendFaults({ timeoutAfterSendRate: 0.3, hangMs: 150, errorRate: 0.1 });
    r.cw.setFaults({ webhookDuplicateRate: 0.5 });
    const convs = await Promise.all(['5511977770001', '5511977770002', '5511977770003'].map((p) => conversationFor(r.api, p)));
    const texts: string[] = [];
    for (let i = 0; i < 30; i++) {
      const c = convs[i % convs.length]!;
      const text = `reply number ${i} for ${c.conversationId}`;
      texts.push(text);
      await r.cw.agentReply(c.conversationId, text);
    }
    await until('30 replies settled', async () => {
      const rows = await r.app.ledger.listMessages({ instance: INSTANCE, direction: 'to_whatsapp' });
      return rows.length === 30 && rows.every((x) => x.state === 'delivered');
    }, 40_000);
    const sent = r.evo.sent(INSTANCE).map(textOf);
    expect(sent.sort()).toEqual([...texts].sort());
    const lookups = (await r.app.ledger.listMessages({ instance: INSTANCE, direction: 'to_whatsapp' })).filter((x) => x.attempts > 1).length;
    expect(lookups).toBeGreaterThan(0);
  });

  it('a reply that fails is shown failed; Retry in Chatwoot sends it once; a delete in Chatwoot deletes it on WhatsApp', async () => {
    rig = await agentRig({ seed: 3 });
    const r = rig;
    const { conversationId } = await conversationFor(r.api, '5511966660001');
    r.evo.setSendFaults({ notOnWhatsappJids: ['5511966660001'] });
    const reply = await r.cw.agentReply(conversationId, 'will fail first');
    const id = reply['id'] as number;
    await until('failed in Chatwoot', () => cwMessage(r, id)?.status === 'failed');
    expect(String(cwMessage(r, id)?.content_attributes['external_error'])).toMatch(/EVOLUTION_REJECTED/);
    // Chatwoot is told while the outcome is recorded; the ledger's commit may land a moment later.
    const dead = await until('dead in the ledger', async () => (await r.app.ledger.getMessage(INSTANCE, replyKey(id)))?.state === 'dead' || null, 5_000);
    expect(dead).toBe(true);
    await webhooksIdle(r);

    r.evo.setSendFaults({ notOnWhatsappJids: [] });
    const retry = await fetch(`${r.cw.url}/api/v1/accounts/${r.cw.accountId}/conversations/${conversationId}/messages/${id}/retry`, { method: 'POST', headers: { api_access_token: r.cw.token } });
    expect(retry.status).toBe(200);
    await until('sent after Retry', () => r.evo.sent(INSTANCE).length === 1);
    await until('delivered row', async () => (await r.app.ledger.getMessage(INSTANCE, replyKey(id)))?.state === 'delivered');
    await new Promise((res) => setTimeout(res, 500));
    expect(r.evo.sent(INSTANCE)).toHaveLength(1);

    const del = await fetch(`${r.cw.url}/api/v1/accounts/${r.cw.accountId}/conversations/${conversationId}/messages/${id}`, { method: 'DELETE', headers: { api_access_token: r.cw.token } });
    expect(del.status).toBe(200);
    await until('deleted on WhatsApp', () => r.evo.sent(INSTANCE)[0]?.status === 'DELETED');
    expect((await r.app.ledger.getMessage(INSTANCE, `cw:${id}#delete`))?.state).toBe('delivered');
  });

  it('a message typed on the phone and revoked there is soft-deleted in Chatwoot, and that delete is not sent back to WhatsApp', async () => {
    rig = await agentRig({ seed: 17 });
    const r = rig;
    const { messages } = await r.evo.run({ instance: INSTANCE, chats: 1, messages: 1, fromMeRate: 1, kinds: { text: 1 } });
    const waId = messages[0]!.key.id;
    const synced = await until('synced as outgoing', async () => {
      const row = await r.app.ledger.getMessage(INSTANCE, waId);
      return row?.state === 'delivered' ? row : null;
    });
    expect(cwMessage(r, synced.cwMessageId!)?.message_type).toBe('outgoing');

    await r.evo.remoteRevoke(INSTANCE, waId);
    await until('soft-deleted in Chatwoot', () => cwMessage(r, synced.cwMessageId!)?.content_attributes['deleted'] === true);
    await webhooksIdle(r);
    // Chatwoot's message_updated (deleted) for evosync's own soft delete becomes an agent-delete
    // item, which is recognised and skipped: WhatsApp already deleted it.
    const echo = await until('agent delete settled', async () => {
      const row = await r.app.ledger.getMessage(INSTANCE, `cw:${synced.cwMessageId}#delete`);
      return row && row.state !== 'pending' ? row : null;
    });
    expect(echo).toMatchObject({ state: 'skipped' });
    expect(echo.lastError).toMatch(/deleted on WhatsApp already/);
  });

  it('refuses unsigned or wrongly signed webhooks and dedups X-Chatwoot-Delivery; answers 2xx to what it ignores', async () => {
    rig = await agentRig({ seed: 4 });
    const r = rig;
    const post = (headers: Record<string, string>, body: string) => r.app.server.inject({ method: 'POST', url: '/webhooks/chatwoot', headers: { 'content-type': 'application/json', ...headers }, payload: body });
    const body = JSON.stringify({ event: 'conversation_created', id: 1 });
    expect((await post({}, body)).statusCode).toBe(401);
    const ts = String(Math.floor(Date.now() / 1000));
    const { createHmac } = await import('node:crypto');
    const good = `sha256=${createHmac('sha256', 'chatwoot-inbox-secret-for-tests').update(`${ts}.${body}`).digest('hex')}`;
    expect((await post({ 'x-chatwoot-signature': good, 'x-chatwoot-timestamp': String(Number(ts) - 1000) }, body)).statusCode).toBe(401);
    const ok = await post({ 'x-chatwoot-signature': good, 'x-chatwoot-timestamp': ts, 'x-chatwoot-delivery': 'd-1' }, body);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ ignored: true });
    expect((await post({ 'x-chatwoot-signature': good, 'x-chatwoot-timestamp': ts, 'x-chatwoot-delivery': 'd-1' }, body)).json()).toEqual({ duplicate: true });
    expect((await r.app.ledger.counts()).refused).toBe(0);
  });

  it('a receipt that arrives before the send is recorded waits for it, and the status never goes back', async () => {
    rig = await agentRig({ seed: 8 });
    const r = rig;
    const { conversationId } = await conversationFor(r.api, '5511955550001');
    r.evo.setSendFaults({ timeoutAfterSendRate: 1, hangMs: 1500 });
    const reply = await r.cw.agentReply(conversationId, 'receipt races me');
    const id = reply['id'] as number;
    // Evolution stored and sent it; evosync is still waiting for the answer that never comes.
    const stored = await until('sent, answer pending', () => r.evo.sent(INSTANCE)[0] ?? null);
    r.evo.setSendFaults({ timeoutAfterSendRate: 0 });
    await r.evo.receipt(INSTANCE, stored.key.id, 'DELIVERY_ACK');
    await until('delivered status', () => cwMessage(r, id)?.status === 'delivered');
    await until('settled', async () => (await r.app.ledger.counts()).pending === 0);
    expect(r.evo.sent(INSTANCE)).toHaveLength(1);
    const row = await r.app.ledger.getMessage(INSTANCE, replyKey(id));
    expect(row).toMatchObject({ state: 'delivered', sentWaId: stored.key.id, waStatus: 'delivered' });
    expect(row!.attempts).toBeGreaterThan(1);
    expect(cwMessage(r, id)?.status).toBe('delivered');
  });

  it('Chatwoot before 4.13: the URL token; other inboxes ignored; replies older than the max age are not sent', async () => {
    rig = await agentRig({ seed: 9, signed: false, extra: { CHATWOOT_WEBHOOK_SECRET: '', EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: 'legacy-url-token-0123456789' } });
    const r = rig;
    r.cw.setInboxWebhook(`${r.address}/webhooks/chatwoot?token=legacy-url-token-0123456789`, null);
    const { conversationId } = await conversationFor(r.api, '5511944440001');
    await r.cw.agentReply(conversationId, 'legacy hello');
    await until('sent', () => r.evo.sent(INSTANCE).length === 1);

    // An agent reply written two days ago (a backlog, or a replayed webhook): marked failed, not sent.
    r.cw.setInboxWebhook(null);
    const old = await r.cw.agentReply(conversationId, 'stale answer');
    const payload = {
      event: 'message_created', id: old['id'], content: 'stale answer', message_type: 'outgoing', private: false, source_id: null, content_attributes: {},
      created_at: new Date(Date.now() - 2 * 86_400_000).toISOString(), account: { id: r.cw.accountId }, inbox: { id: r.cw.inboxId },
      sender: { id: 1, name: 'Admin', type: 'user' }, conversation: { id: conversationId, inbox_id: r.cw.inboxId, contact_inbox: { source_id: '5511944440001@s.whatsapp.net' } },
    };
    const post = (body: unknown, token = 'legacy-url-token-0123456789') =>
      r.app.server.inject({ method: 'POST', url: `/webhooks/chatwoot?token=${token}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect((await post(payload, 'wrong-token-0123456789')).statusCode).toBe(401);
    expect((await post(payload)).json()).toEqual({ accepted: 1, duplicates: 0 });
    expect((await post(payload)).json()).toEqual({ accepted: 0, duplicates: 1 });
    await until('failed in Chatwoot', () => cwMessage(r, old['id'] as number)?.status === 'failed');
    expect(String(cwMessage(r, old['id'] as number)?.content_attributes['external_error'])).toMatch(/AGENT_REPLY_TOO_OLD/);
    expect(r.evo.sent(INSTANCE)).toHaveLength(1);

    // A conversation started by another integration (random contact-inbox source_id, no identifier):
    // the chat link evosync stored for the conversation names the chat.
    await r.app.ledger.saveChatLink({ instance: INSTANCE, chat: '5511944440002@s.whatsapp.net', accountId: r.cw.accountId, inboxId: r.cw.inboxId, contactId: 1, contactSourceId: 'x', conversationId: 4243, conversationCheckedAt: Date.now() }, Date.now());
    const linked = await post({ ...payload, id: 999_998, content: 'via chat link', created_at: new Date().toISOString(), conversation: { id: 4243, inbox_id: r.cw.inboxId, contact_inbox: { source_id: '0f6f0e4c-1f7a-4b8e-9a55-2f3c1d2e4b10' }, meta: { sender: { identifier: null, phone_number: null } } } });
    expect(linked.json()).toEqual({ accepted: 1, duplicates: 0 });
    await until('sent via chat link', () => r.evo.sent(INSTANCE).find((m) => m.key.remoteJid === '5511944440002@s.whatsapp.net'));
    // No chat anywhere: kept as refused, still answered 200 (a 4xx would only paint it red in Chatwoot).
    const lost = await post({ ...payload, id: 999_997, created_at: new Date().toISOString(), conversation: { id: 4244, inbox_id: r.cw.inboxId, contact_inbox: { source_id: 'uuid-like' } } });
    expect(lost.statusCode).toBe(200);
    expect(lost.json()).toMatchObject({ refused: true });
    expect((await r.app.ledger.listRefused(5))[0]).toMatchObject({ source: 'chatwoot', code: 'CHAT_UNRESOLVED' });

    // An account webhook also sees other inboxes: answered 2xx, nothing stored.
    const other = await post({ ...payload, id: 999_999, created_at: new Date().toISOString(), inbox: { id: 4242 }, conversation: { ...payload.conversation, inbox_id: 4242 } });
    expect(other.statusCode).toBe(200);
    expect(other.json()).toMatchObject({ ignored: true });
    expect(await r.app.ledger.getMessage(INSTANCE, replyKey(999_999))).toBeNull();
  });
});
