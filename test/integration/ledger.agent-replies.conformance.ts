import { expect, it } from 'vitest';
import { type AgentReply, type Receipt, receiptKey, replyKey } from '../../src/domain/agent-reply.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { chatMessage } from '../helpers/fixtures.js';

let n = 0;
export function agentReply(over: Partial<AgentReply> = {}): AgentReply {
  n += 1;
  const cwMessageId = over.cwMessageId ?? 90_000 + n;
  return {
    instance: 'inst1', waId: replyKey(cwMessageId), chat: 'ar@s.whatsapp.net', fromMe: true, timestamp: 1_760_000_000 + n,
    event: 'chatwoot.message_created', accountId: 1, inboxId: 1, cwMessageId, cwConversationId: 7, part: 0,
    text: `reply ${n}`, attachment: null, inReplyTo: null, inReplyToWaId: null, senderName: 'Ana', createdAtMs: 1_760_000_000_000,
    ...over,
  };
}

/** The ledger methods agent replies rely on, run against both backends by ledger.conformance.ts. */
export function agentReplyConformance(ledger: () => Ledger): void {
  const now = 2_000_000;

  it('records the WhatsApp id a reply was sent as, finds the reply by it, and never lets two replies claim one id', async () => {
    const l = ledger();
    const a = agentReply();
    const b = agentReply();
    await l.insertMessages([a, b].map((m) => ({ message: m, direction: 'to_whatsapp' as const, source: 'webhook' as const })), now);
    const rowA = await l.getMessage('inst1', a.waId);
    const rowB = await l.getMessage('inst1', b.waId);
    expect(rowA?.direction).toBe('to_whatsapp');
    expect(rowA?.sentWaId).toBeNull();
    expect(await l.findBySentWaId('inst1', 'SENT-A')).toBeNull();
    await l.recordSentWaId(rowA!.id, 'SENT-A', now);
    expect((await l.getMessage('inst1', a.waId))?.sentWaId).toBe('SENT-A');
    expect((await l.findBySentWaId('inst1', 'SENT-A'))?.waId).toBe(a.waId);
    expect(await l.findBySentWaId('inst2', 'SENT-A')).toBeNull();
    await expect(l.recordSentWaId(rowB!.id, 'SENT-A', now)).rejects.toThrow();
    expect((await l.getMessage('inst1', b.waId))?.sentWaId).toBeNull();
  });

  it('keeps the last WhatsApp status passed on, and lists fromMe messages of a chat in a time window', async () => {
    const l = ledger();
    const chat = 'echoes@s.whatsapp.net';
    const mine = chatMessage({ chat, fromMe: true, timestamp: 5000, event: 'send.message' });
    const theirs = chatMessage({ chat, fromMe: false, timestamp: 5001 });
    const late = chatMessage({ chat, fromMe: true, timestamp: 6000 });
    const reply = agentReply({ chat, timestamp: 5002 });
    await l.insertMessages([mine, theirs, late].map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
    await l.insertMessages([{ message: reply, direction: 'to_whatsapp', source: 'webhook' }], now);
    const found = await l.fromMeInWindow('inst1', chat, 4990, 5500, 100);
    expect(found.map((m) => m.waId)).toEqual([mine.waId]);
    expect((await l.fromMeInWindow('inst1', chat, 4990, 7000, 100)).map((m) => m.waId)).toEqual([mine.waId, late.waId]);

    const row = await l.getMessage('inst1', reply.waId);
    expect(row?.waStatus).toBeNull();
    await l.setWaStatus(row!.id, 'delivered', now);
    expect((await l.getMessage('inst1', reply.waId))?.waStatus).toBe('delivered');
  });

  it('stores receipts as lane items keyed by message and status (a redelivery is a duplicate)', async () => {
    const l = ledger();
    const receipt: Receipt = { instance: 'inst1', waId: receiptKey('R1', 'READ'), chat: 'r@s.whatsapp.net', fromMe: true, timestamp: 7000, event: 'messages.update', targetWaId: 'R1', status: 'read', evolutionStatus: 'READ' };
    const r1 = await l.insertMessages([{ message: receipt, direction: 'to_chatwoot', source: 'webhook' }], now);
    const r2 = await l.insertMessages([{ message: receipt, direction: 'to_chatwoot', source: 'rabbitmq' }], now);
    expect([r1, r2]).toEqual([['inserted'], ['duplicate']]);
    expect((await l.getMessage('inst1', receipt.waId))?.message).toEqual(receipt);
  });

  it('finds the chat link of a Chatwoot conversation', async () => {
    const l = ledger();
    await l.saveChatLink({ instance: 'instX', chat: 'link@s.whatsapp.net', accountId: 3, inboxId: 4, contactId: 9, contactSourceId: 'link@s.whatsapp.net', conversationId: 77, conversationCheckedAt: now }, now);
    expect(await l.chatLinkByConversation(3, 4, 77)).toMatchObject({ instance: 'instX', chat: 'link@s.whatsapp.net', conversationId: 77 });
    expect(await l.chatLinkByConversation(3, 5, 77)).toBeNull();
    expect(await l.chatLinkByConversation(3, 4, 78)).toBeNull();
  });
}
