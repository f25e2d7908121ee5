import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyChatwootWebhook } from '../../src/chatwoot/webhook-auth.js';
import { replyItems } from '../../src/chatwoot/webhook-items.js';
import { classifyChatwootWebhook } from '../../src/chatwoot/webhook-payload.js';

const NOW = 1_776_346_348_000;
const sign = (secret: string, ts: string, body: string) => `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;

describe('verifyChatwootWebhook', () => {
  const body = '{"event":"message_created","id":1}';
  const ts = String(NOW / 1000);
  const opts = { secrets: ['old-secret', 'new-secret'], token: null, windowS: 300 };

  it('accepts Chatwoot 4.13 signatures over "{timestamp}.{raw body}" with any configured secret', () => {
    expect(verifyChatwootWebhook(opts, { signature: sign('new-secret', ts, body), timestamp: ts, token: null }, body, NOW)).toEqual({ ok: true, via: 'signature' });
    expect(verifyChatwootWebhook(opts, { signature: sign('old-secret', ts, body), timestamp: ts, token: null }, body, NOW).ok).toBe(true);
  });

  it('refuses a signature of the body alone, of another body, another secret, or a stale timestamp', () => {
    const bodyOnly = `sha256=${createHmac('sha256', 'new-secret').update(body).digest('hex')}`;
    expect(verifyChatwootWebhook(opts, { signature: bodyOnly, timestamp: ts, token: null }, body, NOW)).toMatchObject({ ok: false, code: 'CHATWOOT_SIGNATURE_INVALID' });
    expect(verifyChatwootWebhook(opts, { signature: sign('new-secret', ts, body), timestamp: ts, token: null }, `${body} `, NOW).ok).toBe(false);
    expect(verifyChatwootWebhook(opts, { signature: sign('other', ts, body), timestamp: ts, token: null }, body, NOW).ok).toBe(false);
    const old = String(NOW / 1000 - 301);
    expect(verifyChatwootWebhook(opts, { signature: sign('new-secret', old, body), timestamp: old, token: null }, body, NOW)).toMatchObject({ ok: false, code: 'CHATWOOT_SIGNATURE_EXPIRED' });
    expect(verifyChatwootWebhook(opts, { signature: null, timestamp: null, token: null }, body, NOW).ok).toBe(false);
    expect(verifyChatwootWebhook(opts, { signature: 'sha256=zz', timestamp: ts, token: null }, body, NOW).ok).toBe(false);
  });

  it('uses the URL token for Chatwoot before 4.13, and refuses everything when nothing is configured', () => {
    const legacy = { secrets: [], token: 'legacy-token-0123456789', windowS: 300 };
    expect(verifyChatwootWebhook(legacy, { signature: null, timestamp: null, token: 'legacy-token-0123456789' }, body, NOW)).toEqual({ ok: true, via: 'token' });
    expect(verifyChatwootWebhook(legacy, { signature: null, timestamp: null, token: 'legacy-token-012345678X' }, body, NOW).ok).toBe(false);
    expect(verifyChatwootWebhook(legacy, { signature: null, timestamp: null, token: null }, body, NOW).ok).toBe(false);
    expect(verifyChatwootWebhook({ secrets: [], token: null, windowS: 300 }, { signature: null, timestamp: null, token: 'x' }, body, NOW)).toMatchObject({ ok: false, code: 'CHATWOOT_WEBHOOK_UNAUTHORIZED' });
  });
});

/** The reference's illustrative agent reply (chatwoot-api.md §6.4). */
const agentReply = (over: Record<string, unknown> = {}) => ({
  event: 'message_created', id: 4711, content: 'Olá! **Posso ajudar?**', content_type: 'text', message_type: 'outgoing', private: false, source_id: null,
  content_attributes: { in_reply_to: 4700, in_reply_to_external_id: 'WAID:3EB0ABC' }, additional_attributes: {}, created_at: '2026-04-16T13:32:28.123Z',
  account: { id: 1, name: 'Acme' }, inbox: { id: 7, name: 'WhatsApp' }, sender: { id: 3, name: 'Ana', email: 'ana@acme.com', type: 'user' },
  conversation: {
    id: 42, inbox_id: 7, status: 'open', channel: 'Channel::Api',
    contact_inbox: { id: 90, contact_id: 55, inbox_id: 7, source_id: '5511999999999@s.whatsapp.net' },
    meta: { sender: { id: 55, name: 'João', phone_number: '+5511999999999', identifier: '5511999999999@s.whatsapp.net', type: 'contact' } },
    messages: [{ id: 4711, message_type: 1, status: 'sent' }],
  },
  ...over,
});

describe('classifyChatwootWebhook', () => {
  it('an agent outgoing message is a reply, with its quote, chat hints and time', () => {
    const w = classifyChatwootWebhook(agentReply());
    expect(w.kind).toBe('reply');
    if (w.kind !== 'reply') return;
    expect(w.facts).toMatchObject({
      cwMessageId: 4711, accountId: 1, inboxId: 7, conversationId: 42, contactInboxSourceId: '5511999999999@s.whatsapp.net', messageType: 'outgoing',
      inReplyTo: 4700, inReplyToWaId: '3EB0ABC', senderName: 'Ana', createdAtMs: Date.parse('2026-04-16T13:32:28.123Z'),
    });
    expect(classifyChatwootWebhook(agentReply({ message_type: 'template' })).kind).toBe('reply');
  });

  it('ignores private notes, incoming messages, evosync-synced messages and other events', () => {
    expect(classifyChatwootWebhook(agentReply({ private: true }))).toMatchObject({ kind: 'ignored', reason: 'private note' });
    expect(classifyChatwootWebhook(agentReply({ message_type: 'incoming', source_id: 'WAID:X' })).kind).toBe('ignored');
    expect(classifyChatwootWebhook(agentReply({ source_id: 'WAID:ABC' })).kind).toBe('ignored');
    expect(classifyChatwootWebhook(agentReply({ content_attributes: { external_echo: true } })).kind).toBe('ignored');
    expect(classifyChatwootWebhook(agentReply({ message_type: 'activity' })).kind).toBe('ignored');
    expect(classifyChatwootWebhook({ event: 'conversation_created', id: 42 }).kind).toBe('ignored');
    expect(classifyChatwootWebhook(agentReply({ content: '', attachments: [] })).kind).toBe('ignored');
  });

  it('message_updated: deleted, Retry (no error) or nothing (marked failed)', () => {
    const deleted = classifyChatwootWebhook(agentReply({ event: 'message_updated', content: 'This message was deleted', content_attributes: { deleted: true } }));
    expect(deleted.kind).toBe('deleted');
    const echoDeleted = classifyChatwootWebhook(agentReply({ event: 'message_updated', source_id: 'WAID:PHONE1', content_attributes: { deleted: true } }));
    expect(echoDeleted.kind).toBe('deleted');
    expect(classifyChatwootWebhook(agentReply({ event: 'message_updated', content_attributes: { external_error: 'Timed out reading data from server' } })).kind).toBe('ignored');
    expect(classifyChatwootWebhook(agentReply({ event: 'message_updated', content_attributes: {} })).kind).toBe('updated');
    expect(classifyChatwootWebhook(agentReply({ event: 'message_updated', private: true, content_attributes: { deleted: true } })).kind).toBe('ignored');
  });

  it('refuses what it cannot read, and splits files into one WhatsApp message each', () => {
    expect(classifyChatwootWebhook({ nope: 1 }).kind).toBe('invalid');
    expect(classifyChatwootWebhook(agentReply({ conversation: null })).kind).toBe('invalid');
    const files = [
      { id: 1, file_type: 'image', data_url: 'https://cw.example/rails/active_storage/blobs/redirect/aa/photo.png', content_type: 'image/png' },
      { id: 2, file_type: 'file', data_url: 'https://cw.example/rails/active_storage/blobs/redirect/bb/report%201.pdf' },
      { id: 3, file_type: 'location', data_url: '' },
    ];
    const w = classifyChatwootWebhook(agentReply({ attachments: files }));
    if (w.kind !== 'reply') throw new Error(w.kind);
    const items = replyItems(w.facts, 'inst1', '5511999999999@s.whatsapp.net', NOW);
    expect(items.map((i) => [i.waId, i.part, i.text, i.attachment?.fileName])).toEqual([
      ['cw:4711', 0, 'Olá! **Posso ajudar?**', 'photo.png'],
      ['cw:4711#1', 1, '', 'report 1.pdf'],
    ]);
    const voice = classifyChatwootWebhook(agentReply({ attachments: [{ file_type: 'audio', data_url: 'https://cw.example/x/voice.ogg' }] }));
    if (voice.kind !== 'reply') throw new Error(voice.kind);
    expect(replyItems(voice.facts, 'inst1', 'c@s.whatsapp.net', NOW).map((i) => [i.text, i.attachment?.fileType ?? null])).toEqual([
      ['Olá! **Posso ajudar?**', null],
      ['', 'audio'],
    ]);
  });
});
