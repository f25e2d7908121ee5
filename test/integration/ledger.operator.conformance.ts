import { expect, it } from 'vitest';
import type { Ledger } from '../../src/ledger/ledger.js';
import { chatMessage } from '../helpers/fixtures.js';

/**
 * The operator's ledger reads and the discard action (dashboard, trace), run inside the ledger
 * conformance suite on SQLite and PostgreSQL. Other cases leave rows behind, so these use their
 * own instances and times far beyond theirs.
 */
export function operatorConformance(ledgerOf: () => Ledger): void {
  const row = (m: ReturnType<typeof chatMessage>) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const });

  it('discards a dead message as skipped "discarded by operator", keeps its error, and moves a held chat on', async () => {
    const ledger = ledgerOf();
    const chat = 'discard@s.whatsapp.net';
    const t = 3_000_000;
    const m1 = chatMessage({ instance: 'ops-d', chat, timestamp: 10 });
    const m2 = chatMessage({ instance: 'ops-d', chat, timestamp: 11 });
    await ledger.insertMessages([row(m1), row(m2)], t);
    expect((await ledger.claimLanes('D', 100, t, 30_000)).map((l) => l.chat)).toContain(chat);
    const head = await ledger.laneHead('ops-d', chat, 'hold');
    expect(head?.waId).toBe(m1.waId);
    expect(await ledger.discardDead(head!.id, t)).toBe(false); // only a dead message can be discarded
    await ledger.complete([{ messageId: head!.id, instance: 'ops-d', chat, owner: 'D', outcome: { state: 'dead', error: 'CHATWOOT_REJECTED: HTTP 422' }, keepLeaseUntil: null, nowMs: t, deadPolicy: 'hold' }]);
    // Held: the chat waits behind its dead head.
    expect((await ledger.claimLanes('D', 100, t + 999_999, 30_000)).map((l) => l.chat)).not.toContain(chat);

    expect(await ledger.discardDead(head!.id, t + 1)).toBe(true);
    expect(await ledger.discardDead(head!.id, t + 2)).toBe(false);
    expect(await ledger.retryDead(head!.id, t + 2)).toBe(false); // no longer dead
    const discarded = await ledger.getMessage('ops-d', m1.waId);
    expect(discarded).toMatchObject({ state: 'skipped', lastError: 'discarded by operator (last error: CHATWOOT_REJECTED: HTTP 422)' });
    expect((await ledger.claimLanes('D', 100, t + 3, 30_000)).map((l) => l.chat)).toContain(chat);
    expect((await ledger.laneHead('ops-d', chat, 'hold'))?.waId).toBe(m2.waId);
    await ledger.releaseLanes('D');
  });

  it('buckets received and delivered messages per minute and instance, with their lag', async () => {
    const ledger = ledgerOf();
    // Minutes far beyond every other case's times, so only these rows fall in the window.
    const m0 = 9_000_000_000_000;
    const a = chatMessage({ instance: 'ops-t1', chat: 'tp@s.whatsapp.net', timestamp: 1 });
    const b = chatMessage({ instance: 'ops-t1', chat: 'tp@s.whatsapp.net', timestamp: 2 });
    const c = chatMessage({ instance: 'ops-t2', chat: 'tp@s.whatsapp.net', timestamp: 3 });
    await ledger.insertMessages([row(a), row(b)], m0 + 1_000);
    await ledger.insertMessages([row(c)], m0 + 61_000);
    await ledger.claimLanes('T', 100, m0 + 70_000, 30_000);
    const headA = await ledger.laneHead('ops-t1', 'tp@s.whatsapp.net', 'skip');
    const [r] = await ledger.complete([{ messageId: headA!.id, instance: 'ops-t1', chat: 'tp@s.whatsapp.net', owner: 'T', outcome: { state: 'delivered', cwMessageId: 1, cwConversationId: 1 }, keepLeaseUntil: m0 + 100_000, nowMs: m0 + 61_500, deadPolicy: 'skip' }]);
    await ledger.complete([{ messageId: r!.next!.id, instance: 'ops-t1', chat: 'tp@s.whatsapp.net', owner: 'T', outcome: { state: 'delivered', cwMessageId: 2, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: m0 + 65_000, deadPolicy: 'skip' }]);
    await ledger.releaseLanes('T');

    const buckets = await ledger.throughputSince(m0);
    expect(buckets).toEqual([
      { instance: 'ops-t1', minuteAt: m0, received: 2, delivered: 0, lagMsSum: 0, lagMsMax: 0 },
      { instance: 'ops-t1', minuteAt: m0 + 60_000, received: 0, delivered: 2, lagMsSum: 60_500 + 64_000, lagMsMax: 64_000 },
      { instance: 'ops-t2', minuteAt: m0 + 60_000, received: 1, delivered: 0, lagMsSum: 0, lagMsMax: 0 },
    ]);
    expect(await ledger.throughputSince(m0 + 120_000)).toEqual([]);
  });

  it('counts pending and dead per instance and lists instance connection states', async () => {
    const ledger = ledgerOf();
    const t = 4_000_000;
    const msgs = [1, 2, 3].map((i) => chatMessage({ instance: 'ops-b', chat: `b${i}@s.whatsapp.net` }));
    await ledger.insertMessages(msgs.map(row), t);
    await ledger.claimLanes('B', 100, t, 30_000);
    const head = await ledger.laneHead('ops-b', 'b1@s.whatsapp.net', 'skip');
    await ledger.complete([{ messageId: head!.id, instance: 'ops-b', chat: 'b1@s.whatsapp.net', owner: 'B', outcome: { state: 'dead', error: 'x' }, keepLeaseUntil: null, nowMs: t, deadPolicy: 'skip' }]);
    await ledger.releaseLanes('B');
    expect((await ledger.backlogByInstance()).find((b) => b.instance === 'ops-b')).toEqual({ instance: 'ops-b', pending: 2, dead: 1 });

    await ledger.setInstanceState('ops-b', 'close', 401, t);
    await ledger.setInstanceState('ops-b', 'open', null, t + 5);
    expect((await ledger.instanceStates()).find((s) => s.instance === 'ops-b')).toEqual({ instance: 'ops-b', state: 'open', statusReason: null, updatedAt: t + 5 });
  });

  it('finds messages by WhatsApp id, sent-as id, Chatwoot message id, Chatwoot conversation and chat, newest first', async () => {
    const ledger = ledgerOf();
    const t = 5_000_000;
    const chat = 'search@s.whatsapp.net';
    const first = chatMessage({ instance: 'ops-s', chat, timestamp: 1 });
    const second = chatMessage({ instance: 'ops-s', chat, timestamp: 2 });
    const elsewhere = chatMessage({ instance: 'ops-s', chat: 'other@s.whatsapp.net', timestamp: 3 });
    await ledger.insertMessages([row(first), row(second), row(elsewhere)], t);
    await ledger.claimLanes('S', 100, t, 30_000);
    const head = await ledger.laneHead('ops-s', chat, 'skip');
    await ledger.complete([{ messageId: head!.id, instance: 'ops-s', chat, owner: 'S', outcome: { state: 'delivered', cwMessageId: 777_001, cwConversationId: 88_001 }, keepLeaseUntil: null, nowMs: t, deadPolicy: 'skip' }]);
    await ledger.releaseLanes('S');
    await ledger.recordSentWaId(head!.id, 'SENT-AS-1', t);
    await ledger.saveChatLink({ instance: 'ops-s', chat, accountId: 1, inboxId: 1, contactId: 5, contactSourceId: chat, conversationId: 88_002, conversationCheckedAt: t }, t);

    const ids = (rows: { waId: string }[]) => rows.map((r) => r.waId);
    expect(ids(await ledger.searchMessages({ waId: first.waId, limit: 10 }))).toEqual([first.waId]);
    expect(ids(await ledger.searchMessages({ waId: 'SENT-AS-1', limit: 10 }))).toEqual([first.waId]);
    expect(ids(await ledger.searchMessages({ cwMessageId: 777_001, limit: 10 }))).toEqual([first.waId]);
    expect(ids(await ledger.searchMessages({ chat, limit: 10 }))).toEqual([second.waId, first.waId]);
    expect(ids(await ledger.searchMessages({ chat, limit: 1 }))).toEqual([second.waId]);
    expect(ids(await ledger.searchMessages({ cwConversationId: 88_002, limit: 10 }))).toEqual([second.waId, first.waId]);
    expect(await ledger.searchMessages({ waId: 'nope', cwMessageId: 1_234_567, chat: 'nobody@s.whatsapp.net', limit: 10 })).toEqual([]);
    // Ids that look like SQL stay plain values.
    expect(await ledger.searchMessages({ waId: "x' or '1'='1", chat: "x' or '1'='1", limit: 10 })).toEqual([]);
  });
}
