import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectOptions, connect } from '../../src/ledger/connect.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { SqlLedger, migrateLedger } from '../../src/ledger/sql-ledger.js';
import { WorkListener } from '../../src/ledger/pg-notify.js';
import { createLogger } from '../../src/lib/logger.js';
import type { ChatMessage } from '../../src/domain/message.js';
import { chatMessage } from '../helpers/fixtures.js';
import { agentReply, agentReplyConformance } from './ledger.agent-replies.conformance.js';
import { identityConformance } from './ledger.identity.conformance.js';
import { operatorConformance } from './ledger.operator.conformance.js';

/**
 * One behaviour, two backends: this suite runs unchanged against SQLite and PostgreSQL, so the
 * ledger cannot drift between them.
 */
export function ledgerConformance(name: string, makeUrl: () => Promise<{ url: string; drop: () => Promise<void> }>, options: ConnectOptions = {}): void {
  describe(`ledger conformance (${name})`, () => {
    let ledger: Ledger;
    let drop: () => Promise<void>;
    let url: string;
    const now = 1_000_000;

    beforeAll(async () => {
      const db = await makeUrl();
      drop = db.drop;
      url = db.url;
      const conn = await connect(db.url, { exclusive: true, ...options });
      await migrateLedger(conn);
      expect(await migrateLedger(conn)).toEqual([]); // idempotent
      ledger = new SqlLedger(conn);
    });
    afterAll(async () => {
      await ledger?.close();
      await drop?.();
    });

    it('inserts once per (instance, wa id) and reports duplicates, within and across batches', async () => {
      const a = chatMessage({ chat: 'c1@s.whatsapp.net' });
      const b = chatMessage({ chat: 'c1@s.whatsapp.net' });
      const r1 = await ledger.insertMessages([{ message: a, direction: 'to_chatwoot', source: 'webhook' }, { message: a, direction: 'to_chatwoot', source: 'webhook' }, { message: b, direction: 'to_chatwoot', source: 'webhook' }], now);
      expect(r1).toEqual(['inserted', 'duplicate', 'inserted']);
      const r2 = await ledger.insertMessages([{ message: a, direction: 'to_chatwoot', source: 'rabbitmq' }], now);
      expect(r2).toEqual(['duplicate']);
      const other = { ...a, instance: 'inst2' };
      expect(await ledger.insertMessages([{ message: other, direction: 'to_chatwoot', source: 'webhook' }], now)).toEqual(['inserted']);
      const rows = await ledger.listMessages({ chat: 'c1@s.whatsapp.net', instance: 'inst1' });
      expect(rows.map((r) => r.waId)).toEqual([a.waId, b.waId]);
      expect((rows[0]?.message as ChatMessage | undefined)?.content.text).toBe(a.content.text);
    });


    it('keeps a message exactly as it came: quotes, backslashes, emoji, control characters, a lone surrogate, in ids too', async () => {
      const text = 'say "hi" \\ back\\slash\n\ttab \u0001 \u001f 😀 é \ud800 end \\u0041 {"json":[1]}';
      const m = chatMessage({ chat: 'c1b@s.whatsapp.net', waId: 'ID"\\😀é', content: { type: 'conversation', text, media: null, quotedId: null } });
      const batch = [m, chatMessage({ chat: 'c1b@s.whatsapp.net' })].map((message) => ({ message, direction: 'to_chatwoot' as const, source: 'rabbitmq' as const }));
      expect(await ledger.insertMessages(batch, now)).toEqual(['inserted', 'inserted']);
      const rows = await ledger.listMessages({ chat: 'c1b@s.whatsapp.net', instance: 'inst1' });
      const stored = rows.find((r) => r.waId === m.waId);
      expect(stored?.message).toEqual(JSON.parse(JSON.stringify(m)));
      expect((stored?.message as ChatMessage | undefined)?.content.text).toBe(text);
    });
    it('orders a lane by WhatsApp time then arrival, and hands it to one owner at a time', async () => {
      const chat = 'c2@s.whatsapp.net';
      const late = chatMessage({ chat, timestamp: 2000 });
      const early = chatMessage({ chat, timestamp: 1000 });
      const sameSecond = chatMessage({ chat, timestamp: 2000 });
      await ledger.insertMessages([late, early, sameSecond].map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
      const claimed = await ledger.claimLanes('A', 100, now, 30_000);
      expect(claimed.map((l) => l.chat)).toContain(chat);
      expect((await ledger.claimLanes('B', 100, now, 30_000)).map((l) => l.chat)).not.toContain(chat);
      let head = await ledger.laneHead('inst1', chat, 'skip');
      const order: string[] = [];
      while (head) {
        order.push(head.waId);
        const [res] = await ledger.complete([{ messageId: head.id, instance: 'inst1', chat, owner: 'A', outcome: { state: 'delivered', cwMessageId: order.length, cwConversationId: 7 }, keepLeaseUntil: now + 30_000, nowMs: now, deadPolicy: 'skip' }]);
        expect(res?.leaseHeld).toBe(true);
        head = res?.next ?? null;
      }
      expect(order).toEqual([early.waId, late.waId, sameSecond.waId]);
      // The lane is released and idle once empty.
      expect((await ledger.claimLanes('B', 100, now + 1, 30_000)).map((l) => l.chat)).not.toContain(chat);
    });

    it('backs a failing head off, keeps the lane waiting behind it, then goes dead and moves on (skip policy)', async () => {
      const chat = 'c3@s.whatsapp.net';
      const m1 = chatMessage({ chat, timestamp: 10 });
      const m2 = chatMessage({ chat, timestamp: 11 });
      await ledger.insertMessages([m1, m2].map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
      await ledger.claimLanes('A', 100, now, 30_000);
      const head = await ledger.laneHead('inst1', chat, 'skip');
      expect(head?.waId).toBe(m1.waId);
      const [r] = await ledger.complete([{ messageId: head!.id, instance: 'inst1', chat, owner: 'A', outcome: { state: 'retry', error: 'boom', nextAttemptAt: now + 5000, countAttempt: true, maybeSent: true }, keepLeaseUntil: now + 30_000, nowMs: now, deadPolicy: 'skip' }]);
      expect(r?.next).toBeNull(); // head not due: lane released
      // A new message does not jump the waiting head.
      await ledger.insertMessages([{ message: chatMessage({ chat, timestamp: 12 }), direction: 'to_chatwoot', source: 'webhook' }], now + 10);
      expect((await ledger.claimLanes('A', 100, now + 100, 30_000)).map((l) => l.chat)).not.toContain(chat);
      const again = await ledger.claimLanes('A', 100, now + 5000, 30_000);
      expect(again.map((l) => l.chat)).toContain(chat);
      const h2 = await ledger.laneHead('inst1', chat, 'skip');
      expect(h2?.waId).toBe(m1.waId);
      expect(h2?.attempts).toBe(1);
      expect(h2?.maybeSent).toBe(true);
      expect(h2?.lastError).toBe('boom');
      const [r2] = await ledger.complete([{ messageId: h2!.id, instance: 'inst1', chat, owner: 'A', outcome: { state: 'dead', error: 'gave up' }, keepLeaseUntil: now + 40_000, nowMs: now + 5000, deadPolicy: 'skip' }]);
      expect(r2?.next?.waId).toBe(m2.waId);
      expect((await ledger.counts()).dead).toBeGreaterThanOrEqual(1);
    });

    it('hold policy parks a lane behind its dead head until an operator retries it', async () => {
      const chat = 'c4@s.whatsapp.net';
      const m1 = chatMessage({ chat, timestamp: 10 });
      const m2 = chatMessage({ chat, timestamp: 11 });
      await ledger.insertMessages([m1, m2].map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
      await ledger.claimLanes('A', 100, now, 30_000);
      const head = await ledger.laneHead('inst1', chat, 'hold');
      const [r] = await ledger.complete([{ messageId: head!.id, instance: 'inst1', chat, owner: 'A', outcome: { state: 'dead', error: 'x' }, keepLeaseUntil: now + 30_000, nowMs: now, deadPolicy: 'hold' }]);
      expect(r?.next).toBeNull();
      expect((await ledger.claimLanes('A', 100, now + 999_999, 30_000)).map((l) => l.chat)).not.toContain(chat);
      expect(await ledger.retryDead(head!.id, now + 1)).toBe(true);
      expect(await ledger.retryDead(head!.id, now + 1)).toBe(false);
      expect((await ledger.claimLanes('A', 100, now + 2, 30_000)).map((l) => l.chat)).toContain(chat);
      expect((await ledger.laneHead('inst1', chat, 'hold'))?.waId).toBe(m1.waId);
      await ledger.releaseLanes('A');
    });

    it('reaps an expired lease as suspect and lets another owner take the lane', async () => {
      const chat = 'c5@s.whatsapp.net';
      await ledger.insertMessages([{ message: chatMessage({ chat }), direction: 'to_chatwoot', source: 'webhook' }], now);
      const t = now + 10;
      expect((await ledger.claimLanes('dead-process', 100, t, 1000)).map((l) => l.chat)).toContain(chat);
      expect(await ledger.reapExpiredLeases(t + 500)).toBe(0);
      expect(await ledger.reapExpiredLeases(t + 1001, 'dead-process')).toBe(0); // never one's own
      expect(await ledger.reapExpiredLeases(t + 1001)).toBeGreaterThanOrEqual(1);
      const taken = await ledger.claimLanes('B', 100, t + 1002, 1000);
      expect(taken.find((l) => l.chat === chat)?.suspect).toBe(true);
      const head = await ledger.laneHead('inst1', chat, 'skip');
      // The dead process still completes late: its outcome is kept, but the lane is not its own.
      const [late] = await ledger.complete([{ messageId: head!.id, instance: 'inst1', chat, owner: 'dead-process', outcome: { state: 'delivered', cwMessageId: 1, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: t + 1003, deadPolicy: 'skip' }]);
      expect(late?.leaseHeld).toBe(false);
      expect((await ledger.getMessage('inst1', head!.waId))?.state).toBe('delivered');
      await ledger.releaseLanes('B');
    });

    it('names the Chatwoot id delivered last before a time, per instance (where a reconcile reads a conversation from)', async () => {
      const chat = 'bound@s.whatsapp.net';
      const rows = [chatMessage({ chat, instance: 'bound1' }), chatMessage({ chat, instance: 'bound1' }), chatMessage({ chat, instance: 'bound2' })];
      await ledger.insertMessages(rows.map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
      const ids = await Promise.all(rows.map(async (m) => (await ledger.getMessage(m.instance, m.waId))!.id));
      const done = (i: number, cwMessageId: number, at: number) =>
        ledger.complete([{ messageId: ids[i]!, instance: rows[i]!.instance, chat, owner: 'bound', outcome: { state: 'delivered', cwMessageId, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: at, deadPolicy: 'skip' }]);
      await done(0, 700, now + 10);
      await done(1, 650, now + 20); // lanes finish out of id order: the latest delivery, not the highest id
      await done(2, 900, now + 15);
      expect(await ledger.cwMessageIdDeliveredBefore('bound1', now + 10)).toBeNull();
      expect(await ledger.cwMessageIdDeliveredBefore('bound1', now + 11)).toBe(700);
      expect(await ledger.cwMessageIdDeliveredBefore('bound1', now + 1000)).toBe(650);
      expect(await ledger.cwMessageIdDeliveredBefore('bound2', now + 1000)).toBe(900);
      expect(await ledger.cwMessageIdDeliveredBefore('nobody', now + 1000)).toBeNull();
    });

    it('renews only the named leases, abandons a lane as suspect, and knows the last committed Chatwoot id', async () => {
      const chat = 'c6@s.whatsapp.net';
      const other = 'c7@s.whatsapp.net';
      await ledger.insertMessages([chat, other].map((c) => ({ message: chatMessage({ chat: c }), direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
      const t = now + 50;
      const lanes = (await ledger.claimLanes('R', 100, t, 1000)).filter((l) => l.chat === chat || l.chat === other);
      expect(lanes).toHaveLength(2);
      expect(await ledger.renewLeases('R', [{ instance: 'inst1', chat }], t + 5000)).toBe(1);
      await ledger.reapExpiredLeases(t + 2000); // `other` expired, `chat` was renewed
      const taken = (await ledger.claimLanes('S', 100, t + 2000, 1000)).map((l) => l.chat);
      expect(taken).toContain(other);
      expect(taken).not.toContain(chat);
      await ledger.releaseLanes('S');
      const head = await ledger.laneHead('inst1', chat, 'skip');
      await ledger.complete([{ messageId: head!.id, instance: 'inst1', chat, owner: 'R', outcome: { state: 'delivered', cwMessageId: 4242, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: t, deadPolicy: 'skip' }]);
      expect(await ledger.lastDeliveredCwMessageId('inst1', chat)).toBe(4242);
      expect(await ledger.lastDeliveredCwMessageId('inst1', 'nobody@s.whatsapp.net')).toBeNull();
      await ledger.insertMessages([{ message: chatMessage({ chat }), direction: 'to_chatwoot', source: 'webhook' }], t + 1);
      expect((await ledger.claimLanes('R', 100, t + 2, 1000)).map((l) => l.chat)).toContain(chat);
      await ledger.abandonLane('inst1', chat, 'R', t + 3);
      const again = await ledger.claimLanes('S', 100, t + 4, 1000);
      expect(again.find((l) => l.chat === chat)?.suspect).toBe(true);
      await ledger.releaseLanes('S');
    });

    it('keeps when the attempt that may have reached the other side began, for one message and for a batch', async () => {
      const chat = 'sentat@s.whatsapp.net';
      const chat2 = 'sentat2@s.whatsapp.net';
      const m = chatMessage({ chat });
      const m2 = chatMessage({ chat: chat2 });
      await ledger.insertMessages([{ message: m, direction: 'to_chatwoot', source: 'webhook' }, { message: m2, direction: 'to_chatwoot', source: 'webhook' }], now);
      await ledger.claimLanes('S', 10, now, 30_000);
      const h = (await ledger.laneHead('inst1', chat, 'skip'))!;
      // A failed attempt that cannot have reached Chatwoot sets nothing; an ambiguous one sets its start.
      await ledger.complete([{ messageId: h.id, instance: 'inst1', chat, owner: 'S', outcome: { state: 'retry', error: 'refused', nextAttemptAt: now, countAttempt: true, maybeSent: false }, keepLeaseUntil: now + 30_000, nowMs: now + 10, deadPolicy: 'skip', attemptStartedAt: now + 5 }]);
      expect((await ledger.getMessage('inst1', m.waId))?.sentAt).toBeNull();
      await ledger.complete([{ messageId: h.id, instance: 'inst1', chat, owner: 'S', outcome: { state: 'retry', error: 'timeout', nextAttemptAt: now, countAttempt: true, maybeSent: true }, keepLeaseUntil: now + 30_000, nowMs: now + 40, deadPolicy: 'skip', attemptStartedAt: now + 20 }]);
      expect((await ledger.getMessage('inst1', m.waId))?.sentAt).toBe(now + 20);
      // Delivered later (found by the look-up): the first attempt that may have sent it stays.
      const h2 = (await ledger.laneHead('inst1', chat2, 'skip'))!;
      await ledger.complete([
        { messageId: h.id, instance: 'inst1', chat, owner: 'S', outcome: { state: 'delivered', cwMessageId: 901, cwConversationId: 9 }, keepLeaseUntil: null, nowMs: now + 90, deadPolicy: 'skip', attemptStartedAt: now + 60 },
        { messageId: h2.id, instance: 'inst1', chat: chat2, owner: 'S', outcome: { state: 'delivered', cwMessageId: 902, cwConversationId: 9 }, keepLeaseUntil: null, nowMs: now + 95, deadPolicy: 'skip', attemptStartedAt: now + 70 },
      ]);
      expect(await ledger.getMessage('inst1', m.waId)).toMatchObject({ state: 'delivered', sentAt: now + 20, deliveredAt: now + 90 });
      expect(await ledger.getMessage('inst1', m2.waId)).toMatchObject({ state: 'delivered', sentAt: now + 70, deliveredAt: now + 95 });
      expect((await ledger.existingWaIds('inst1', [m2.waId])).get(m2.waId)?.sentAt).toBe(now + 70);
    });

    it('names the head and the message after it in flight at a lane start, and a takeover looks both up', async () => {
      const t = now + 20_000;
      const chat = 'pipe1@s.whatsapp.net';
      const [m1, m2, m3] = [1, 2, 3].map((ts) => chatMessage({ chat, timestamp: ts }));
      await ledger.insertMessages([m1!, m2!, m3!].map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), t);
      expect((await ledger.claimLanes('P', 100, t, 1000)).map((l) => l.chat)).toContain(chat);
      const start = await ledger.startLane('inst1', chat, 'P', 'skip', t);
      expect(start.head?.waId).toBe(m1!.waId);
      expect(start.then?.waId).toBe(m2!.waId);
      // P dies holding the lane: both named messages may be in Chatwoot, the third cannot be.
      expect(await ledger.reapExpiredLeases(t + 1001)).toBeGreaterThanOrEqual(1);
      expect((await ledger.getMessage('inst1', m1!.waId))?.maybeSent).toBe(true);
      expect((await ledger.getMessage('inst1', m2!.waId))?.maybeSent).toBe(true);
      expect((await ledger.getMessage('inst1', m3!.waId))?.maybeSent).toBe(false);
    });

    it('marks a head only when it is due and the lease is held, and tells the lease term it read', async () => {
      const t = now + 25_000;
      const chat = 'pipe0@s.whatsapp.net';
      await ledger.insertMessages([{ message: chatMessage({ chat }), direction: 'to_chatwoot', source: 'webhook' }], t, t + 500);
      expect((await ledger.claimLanes('P0', 100, t + 500, 10_000)).map((l) => l.chat)).toContain(chat);
      // Due at t + 500: a start that reads the clock before then sends nothing.
      expect(await ledger.startLane('inst1', chat, 'P0', 'skip', t + 499)).toEqual({ head: null, then: null, leaseUntil: expect.any(Number) });
      const due = await ledger.startLane('inst1', chat, 'P0', 'skip', t + 500);
      expect(due).toMatchObject({ head: { state: 'pending' }, leaseUntil: t + 10_500 });
      // Another owner's start marks nothing (the lease is P0's).
      expect(await ledger.startLane('inst1', chat, 'intruder', 'skip', t + 600)).toEqual({ head: null, then: null, leaseUntil: null });
      // A stop that finds a lane still naming messages in flight flags them before letting go.
      expect(await ledger.releaseLanes('P0')).toBeGreaterThanOrEqual(1);
      expect((await ledger.getMessage('inst1', due.head!.waId))?.maybeSent).toBe(true);
    });

    it('keeps a pipelined lane, names the message being sent and the one after it, and settles a takeover the same way', async () => {
      const t = now + 30_000;
      const chat = 'pipe2@s.whatsapp.net';
      const msgs = [1, 2, 3, 4].map((ts) => chatMessage({ chat, timestamp: ts }));
      await ledger.insertMessages(msgs.map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), t);
      await ledger.claimLanes('Q', 100, t, 1000);
      const start = await ledger.startLane('inst1', chat, 'Q', 'skip', t);
      const base = { instance: 'inst1', chat, owner: 'Q', keepLeaseUntil: t + 1000, nowMs: t, deadPolicy: 'skip' as const };
      // m1 delivered while m2 is already on its way: the commit names m2 and m3.
      const [r1] = await ledger.complete([{ ...base, messageId: start.head!.id, outcome: { state: 'delivered', cwMessageId: 501, cwConversationId: 5 }, pipelined: start.then!.id }]);
      expect(r1).toMatchObject({ leaseHeld: true, next: null, then: { waId: msgs[2]!.waId } });
      // A message that sorts before the pipelined one arrives late: it follows, instead of waiting.
      const early = chatMessage({ chat, timestamp: 0 });
      await ledger.insertMessages([{ message: early, direction: 'to_chatwoot', source: 'webhook' }], t);
      const [r2] = await ledger.complete([{ ...base, messageId: start.then!.id, outcome: { state: 'delivered', cwMessageId: 502, cwConversationId: 5 }, pipelined: r1!.then!.id }]);
      expect(r2).toMatchObject({ leaseHeld: true, next: null, then: { waId: early.waId } });
      // Q dies: the one being sent (m3) and the one named after it (early) are looked up; m4 is not.
      await ledger.reapExpiredLeases(t + 1001);
      const state = async (waId: string) => (await ledger.getMessage('inst1', waId))!;
      expect(await state(msgs[0]!.waId)).toMatchObject({ state: 'delivered', maybeSent: false });
      expect(await state(msgs[1]!.waId)).toMatchObject({ state: 'delivered', maybeSent: false });
      expect((await state(msgs[2]!.waId)).maybeSent).toBe(true);
      expect((await state(early.waId)).maybeSent).toBe(true);
      expect((await state(msgs[3]!.waId)).maybeSent).toBe(false);
    });

    it('never names an agent reply, or a message not yet due, as one to send before the last outcome commits', async () => {
      const t = now + 40_000;
      const chat = 'pipe3@s.whatsapp.net';
      const m1 = chatMessage({ chat, timestamp: 1 });
      const reply = agentReply({ chat, timestamp: 2 });
      const m3 = chatMessage({ chat, timestamp: 3 });
      await ledger.insertMessages([{ message: m1, direction: 'to_chatwoot', source: 'webhook' }, { message: reply, direction: 'to_whatsapp', source: 'webhook' }], t);
      await ledger.claimLanes('R2', 100, t, 30_000);
      const start = await ledger.startLane('inst1', chat, 'R2', 'skip', t);
      expect(start.head?.waId).toBe(m1.waId);
      expect(start.then).toBeNull();
      const base = { instance: 'inst1', chat, owner: 'R2', keepLeaseUntil: t + 30_000, nowMs: t, deadPolicy: 'skip' as const };
      const [r1] = await ledger.complete([{ ...base, messageId: start.head!.id, outcome: { state: 'delivered', cwMessageId: 601, cwConversationId: 6 } }]);
      expect(r1?.next?.waId).toBe(reply.waId);
      expect(r1?.then).toBeNull();
      // Inserted with an ordering window: due later, so not named to follow at once.
      await ledger.insertMessages([{ message: m3, direction: 'to_chatwoot', source: 'webhook' }], t, t + 500);
      const [r2] = await ledger.complete([{ ...base, messageId: r1!.next!.id, outcome: { state: 'delivered', cwMessageId: 602, cwConversationId: 6 } }]);
      expect(r2).toMatchObject({ leaseHeld: true, next: null, then: null });
      await ledger.releaseLanes('R2');
    });

    it('completes a batch in any order and returns results in submission order', async () => {
      const chats = ['z9@s.whatsapp.net', 'a1@s.whatsapp.net', 'm5@s.whatsapp.net'];
      await ledger.insertMessages(chats.map((c) => ({ message: chatMessage({ chat: c }), direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
      await ledger.claimLanes('B', 100, now + 60, 30_000);
      const heads = await Promise.all(chats.map((c) => ledger.laneHead('inst1', c, 'skip')));
      const results = await ledger.complete(chats.map((c, i) => ({ messageId: heads[i]!.id, instance: 'inst1', chat: c, owner: 'B', outcome: { state: 'delivered' as const, cwMessageId: 900 + i, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: now, deadPolicy: 'skip' as const })));
      expect(results.map((r) => r.leaseHeld)).toEqual([true, true, true]);
      expect(await Promise.all(chats.map((c) => ledger.lastDeliveredCwMessageId('inst1', c)))).toEqual([900, 901, 902]);
      await ledger.releaseLanes('B');
    });

    it('puts a lane given back with its head due behind the lanes already waiting (chats take turns)', async () => {
      const t0 = now + 5_000;
      const chats = ['turn-x@s.whatsapp.net', 'turn-y@s.whatsapp.net'];
      await ledger.insertMessages(chats.flatMap((c) => [1, 2].map(() => ({ message: chatMessage({ chat: c, instance: 'turns' }), direction: 'to_chatwoot' as const, source: 'webhook' as const }))), t0);
      const mine = (lanes: { instance: string; chat: string }[]) => lanes.filter((l) => l.instance === 'turns').map((l) => l.chat).sort();
      expect(mine(await ledger.claimLanes('T', 100, t0, 30_000))).toEqual(chats);
      const give = async (chat: string, at: number) => {
        const head = await ledger.laneHead('turns', chat, 'skip');
        const [r] = await ledger.complete([{ messageId: head!.id, instance: 'turns', chat, owner: 'T', outcome: { state: 'delivered', cwMessageId: head!.id, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: at, deadPolicy: 'skip' }]);
        expect(r).toEqual({ next: null, then: null, leaseHeld: true, leaseUntil: expect.any(Number) });
      };
      // Both still have a due message; x is given back later than y.
      await give(chats[0]!, t0 + 500);
      await give(chats[1]!, t0 + 400);
      // x waits from when it was given back, not from when its message arrived.
      expect(mine(await ledger.claimLanes('T', 100, t0 + 450, 30_000))).toEqual([chats[1]]);
      expect(mine(await ledger.claimLanes('T', 100, t0 + 500, 30_000))).toEqual([chats[0]]);
      await ledger.releaseLanes('T');
    });

    it('holds new messages for the ordering window, so a late sibling with an earlier time goes first', async () => {
      const chat = 'w1@s.whatsapp.net';
      const newer = chatMessage({ chat, timestamp: 500 });
      const older = chatMessage({ chat, timestamp: 499 });
      const t = now + 100;
      await ledger.insertMessages([{ message: newer, direction: 'to_chatwoot', source: 'webhook' }], t, t + 500);
      expect((await ledger.claimLanes('W', 100, t + 10, 1000)).map((l) => l.chat)).not.toContain(chat);
      await ledger.insertMessages([{ message: older, direction: 'to_chatwoot', source: 'webhook' }], t + 50, t + 550);
      expect((await ledger.claimLanes('W', 100, t + 500, 1000)).map((l) => l.chat)).toContain(chat);
      const head = await ledger.laneHead('inst1', chat, 'skip');
      expect(head?.waId).toBe(older.waId);
      expect(head?.nextAttemptAt).toBe(t + 550);
      await ledger.releaseLanes('W');
    });

    it('completes a mixed batch (delivered, retry, dead, lost lease) exactly as one at a time', async () => {
      const t = now + 7000;
      const chats = ['mx1@s.whatsapp.net', 'mx2@s.whatsapp.net', 'mx3@s.whatsapp.net', 'mx4@s.whatsapp.net'];
      const msgs = chats.flatMap((c) => [chatMessage({ chat: c, timestamp: 1 }), chatMessage({ chat: c, timestamp: 2 })]);
      await ledger.insertMessages(msgs.map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'webhook' as const })), t);
      const mine = (await ledger.claimLanes('M', 100, t, 30_000)).filter((l) => chats.includes(l.chat));
      expect(mine).toHaveLength(4);
      await ledger.releaseLanes('M');
      await ledger.claimLanes('M', 100, t, 30_000);
      // mx4's lease is taken by another owner before the batch lands.
      await ledger.abandonLane('inst1', 'mx4@s.whatsapp.net', 'M', t);
      await ledger.claimLanes('N', 100, t, 30_000);
      const heads = await Promise.all(chats.map((c) => ledger.laneHead('inst1', c, 'skip')));
      const base = { instance: 'inst1', owner: 'M', keepLeaseUntil: t + 30_000, nowMs: t, deadPolicy: 'skip' as const };
      const results = await ledger.complete([
        { ...base, chat: chats[0]!, messageId: heads[0]!.id, outcome: { state: 'delivered', cwMessageId: 11, cwConversationId: 1 } },
        { ...base, chat: chats[1]!, messageId: heads[1]!.id, outcome: { state: 'retry', error: 'x', nextAttemptAt: t + 9000, countAttempt: true, maybeSent: true } },
        { ...base, chat: chats[2]!, messageId: heads[2]!.id, outcome: { state: 'dead', error: 'gone' } },
        { ...base, chat: chats[3]!, messageId: heads[3]!.id, outcome: { state: 'delivered', cwMessageId: 44, cwConversationId: 1 } },
      ]);
      expect(results[0]).toMatchObject({ leaseHeld: true, next: { waId: msgs[1]!.waId } });
      expect(results[1]).toEqual({ leaseHeld: true, next: null, then: null, leaseUntil: t + 30_000 });
      expect(results[2]).toMatchObject({ leaseHeld: true, next: { waId: msgs[5]!.waId } });
      expect(results[3]).toEqual({ leaseHeld: false, next: null, then: null, leaseUntil: null });
      expect((await ledger.getMessage('inst1', msgs[0]!.waId))).toMatchObject({ state: 'delivered', cwMessageId: 11, attempts: 1 });
      expect((await ledger.getMessage('inst1', msgs[2]!.waId))).toMatchObject({ state: 'pending', attempts: 1, maybeSent: true, nextAttemptAt: t + 9000 });
      expect((await ledger.getMessage('inst1', msgs[4]!.waId))).toMatchObject({ state: 'dead', lastError: 'gone' });
      expect((await ledger.getMessage('inst1', msgs[6]!.waId))).toMatchObject({ state: 'delivered', cwMessageId: 44 });
      await ledger.releaseLanes('M');
      await ledger.releaseLanes('N');
    });

    it('flags the message a dead owner was delivering and settles it before anything else in its chat', async () => {
      const chat = 'pin@s.whatsapp.net';
      const first = chatMessage({ chat, timestamp: 100 });
      await ledger.insertMessages([{ message: first, direction: 'to_chatwoot', source: 'webhook' }], now);
      const t = now + 20_000;
      expect((await ledger.claimLanes('gone', 100, t, 1000)).map((l) => l.chat)).toContain(chat);
      expect((await ledger.startLane('inst1', chat, 'gone', 'skip', t))?.head?.waId).toBe(first.waId);
      // The owner dies mid-request; meanwhile a message with an earlier WhatsApp time arrives late.
      const late = chatMessage({ chat, timestamp: 50 });
      await ledger.insertMessages([{ message: late, direction: 'to_chatwoot', source: 'webhook' }], t + 1);
      await ledger.reapExpiredLeases(t + 5000);
      expect((await ledger.getMessage('inst1', first.waId))?.maybeSent).toBe(true);
      expect((await ledger.getMessage('inst1', late.waId))?.maybeSent).toBe(false);
      await ledger.claimLanes('heir', 100, t + 5001, 1000);
      // Pinned: the possibly-sent message is settled first, so its look-up floor stays valid.
      expect((await ledger.laneHead('inst1', chat, 'skip'))?.waId).toBe(first.waId);
      await ledger.releaseLanes('heir');
    });

    it('stores chat links, refused input and instance state', async () => {
      await ledger.saveChatLink({ instance: 'inst1', chat: 'x@s.whatsapp.net', accountId: 1, inboxId: 2, contactId: 3, contactSourceId: 'x@s.whatsapp.net', conversationId: 4, conversationCheckedAt: 5 }, now);
      await ledger.saveChatLink({ instance: 'inst1', chat: 'x@s.whatsapp.net', accountId: 1, inboxId: 2, contactId: 3, contactSourceId: 'x@s.whatsapp.net', conversationId: 9, conversationCheckedAt: 77 }, now);
      expect(await ledger.getChatLink('inst1', 'x@s.whatsapp.net', 1, 2)).toMatchObject({ conversationId: 9, conversationCheckedAt: 77, contactId: 3 });
      expect(await ledger.getChatLink('inst1', 'x@s.whatsapp.net', 1, 3)).toBeNull();
      await ledger.recordRefused([{ source: 'webhook', code: 'PAYLOAD_INVALID', reason: 'bad', instance: null, event: null, body: '{"x":', receivedAt: now }]);
      const refused = await ledger.listRefused(10);
      expect(refused[0]).toMatchObject({ code: 'PAYLOAD_INVALID', body: '{"x":' });
      await ledger.setInstanceState('inst1', 'open', 200, now);
      await ledger.setInstanceState('inst1', 'connecting', null, now + 1);
    });

    it('answers which WhatsApp ids it holds per instance, in batches larger than one statement, and keeps reconcile runs', async () => {
      const chat = 'recon@s.whatsapp.net';
      const held = Array.from({ length: 450 }, (_, i) => chatMessage({ chat, waId: `RC-${i}`, timestamp: 5000 + i }));
      await ledger.insertMessages(held.map((m) => ({ message: m, direction: 'to_chatwoot' as const, source: 'reconcile' as const })), now);
      await ledger.insertMessages([{ message: chatMessage({ chat, waId: 'RC-other', instance: 'inst2' }), direction: 'to_chatwoot', source: 'webhook' }], now);
      // Ids that look like SQL stay plain values.
      const asked = [...held.map((m) => m.waId), 'RC-missing', "x') or ('1'='1", 'RC-other', 'RC-0'];
      const found = await ledger.existingWaIds('inst1', asked);
      expect(found.size).toBe(450);
      expect(found.has('RC-missing') || found.has('RC-other')).toBe(false);
      expect(found.get('RC-449')).toMatchObject({ chat, state: 'pending', waTs: 5449, cwMessageId: null, deliveredAt: null });
      expect((await ledger.existingWaIds('inst2', ['RC-other', 'RC-1'])).size).toBe(1);
      expect((await ledger.existingWaIds('inst1', [])).size).toBe(0);

      const run = { instance: 'inst1', trigger: 'api', windowFrom: 1, windowTo: 2, chat: null, pages: 3, compared: 120, missing: 6, repaired: 6, unusable: 0, agentConversations: 4, agentCompared: 31, agentMissing: 2, agentRepaired: 1, error: null, startedAt: now, durationMs: 42 };
      await ledger.recordReconcileRun(run);
      await ledger.recordReconcileRun({ ...run, instance: 'inst2', startedAt: now + 1, error: 'evolution unreachable' });
      expect(await ledger.listReconcileRuns('inst1', 10)).toEqual([{ ...run, id: expect.any(Number) }]);
      expect((await ledger.listReconcileRuns(null, 10)).map((r) => r.instance)).toEqual(['inst2', 'inst1']);
    });

    it('knows when its oldest pending message was received, and forgets it once delivered or dead', async () => {
      // Other tests leave pending rows behind: what they contribute is computed, not assumed.
      const pending = await ledger.listMessages({ state: 'pending', limit: 1_000_000 });
      const before = pending.length > 0 ? Math.min(...pending.map((m) => m.receivedAt)) : null;
      expect(await ledger.oldestPendingReceivedAt()).toBe(before);
      const chat = 'age@s.whatsapp.net';
      const older = chatMessage({ chat, timestamp: 1 });
      const younger = chatMessage({ chat, timestamp: 2 });
      // Received long before every other row (they use `now`), so these two decide the answer.
      await ledger.insertMessages([{ message: older, direction: 'to_chatwoot', source: 'webhook' }], 5);
      await ledger.insertMessages([{ message: younger, direction: 'to_chatwoot', source: 'webhook' }], 7);
      expect(await ledger.oldestPendingReceivedAt()).toBe(5);
      expect((await ledger.claimLanes('AGE', 100, 10, 30_000)).map((l) => l.chat)).toContain(chat);
      const head = await ledger.laneHead('inst1', chat, 'skip');
      expect(head?.waId).toBe(older.waId);
      const [r] = await ledger.complete([{ messageId: head!.id, instance: 'inst1', chat, owner: 'AGE', outcome: { state: 'delivered', cwMessageId: 1, cwConversationId: 1 }, keepLeaseUntil: 30_010, nowMs: 10, deadPolicy: 'skip' }]);
      expect(await ledger.oldestPendingReceivedAt()).toBe(7);
      expect(r?.next?.waId).toBe(younger.waId);
      await ledger.complete([{ messageId: r!.next!.id, instance: 'inst1', chat, owner: 'AGE', outcome: { state: 'dead', error: 'x' }, keepLeaseUntil: null, nowMs: 11, deadPolicy: 'skip' }]);
      expect(await ledger.oldestPendingReceivedAt()).toBe(before);
      // Either direction counts: an agent reply waiting for WhatsApp is backlog too.
      const reply = agentReply({ chat: 'age-reply@s.whatsapp.net' });
      await ledger.insertMessages([{ message: reply, direction: 'to_whatsapp', source: 'webhook' }], 3);
      expect(await ledger.oldestPendingReceivedAt()).toBe(3);
      await ledger.claimLanes('AGE', 100, 12, 30_000);
      const replyRow = await ledger.laneHead('inst1', reply.chat, 'skip');
      await ledger.complete([{ messageId: replyRow!.id, instance: 'inst1', chat: reply.chat, owner: 'AGE', outcome: { state: 'dead', error: 'x' }, keepLeaseUntil: null, nowMs: 12, deadPolicy: 'skip' }]);
      expect(await ledger.oldestPendingReceivedAt()).toBe(before);
      await ledger.releaseLanes('AGE');
    });

    it('hands each due lane to exactly one of several processes claiming at the same moment', async () => {
      // A second connection is a second process as far as the database can tell.
      const other = new SqlLedger(await connect(url));
      try {
        const chats = Array.from({ length: 40 }, (_, i) => `race${i}@s.whatsapp.net`);
        await ledger.insertMessages(chats.map((chat) => ({ message: chatMessage({ instance: 'race', chat }), direction: 'to_chatwoot' as const, source: 'webhook' as const })), now);
        const mine = (ls: { instance: string; chat: string }[]) => ls.filter((l) => l.instance === 'race').map((l) => l.chat);
        const rounds = await Promise.all([
          ledger.claimLanes('X', 25, now, 30_000), other.claimLanes('Y', 25, now, 30_000),
          ledger.claimLanes('X', 25, now, 30_000), other.claimLanes('Y', 25, now, 30_000),
        ]);
        const x = [...mine(rounds[0]), ...mine(rounds[2])];
        const y = [...mine(rounds[1]), ...mine(rounds[3])];
        expect(x.filter((c) => y.includes(c))).toEqual([]);
        expect(new Set([...x, ...y]).size).toBe(x.length + y.length);
        expect([...x, ...y].sort()).toEqual([...chats].sort());
        // Settled, so later cases never meet these lanes.
        const settle = async (l: Ledger, owner: string, chat: string) => {
          const head = await l.laneHead('race', chat, 'skip');
          await l.complete([{ messageId: head!.id, instance: 'race', chat, owner, outcome: { state: 'skipped', reason: 'test' }, keepLeaseUntil: null, nowMs: now, deadPolicy: 'skip' }]);
        };
        for (const c of x) await settle(ledger, 'X', c);
        for (const c of y) await settle(other, 'Y', c);
      } finally {
        await ledger.releaseLanes('X');
        await other.releaseLanes('Y');
        await other.close();
      }
    });

    it.skipIf(name !== 'postgres')('wakes every LISTENing process when a commit makes work due, and not for duplicates alone', async () => {
      let wakes = 0;
      const listener = new WorkListener(url, () => (wakes += 1), createLogger('silent'));
      listener.start();
      try {
        const until = async (cond: () => boolean, ms: number) => {
          for (const t = Date.now(); !cond() && Date.now() - t < ms; ) await new Promise((r) => setTimeout(r, 20));
          return cond();
        };
        expect(await until(() => listener.connected && wakes >= 1, 5000)).toBe(true); // (re)connecting wakes once
        const base = wakes;
        const m = chatMessage({ chat: 'notify@s.whatsapp.net' });
        await ledger.insertMessages([{ message: m, direction: 'to_chatwoot', source: 'webhook' }], now);
        expect(await until(() => wakes > base, 3000)).toBe(true);
        const afterInsert = wakes;
        await ledger.insertMessages([{ message: m, direction: 'to_chatwoot', source: 'rabbitmq' }], now);
        await new Promise((r) => setTimeout(r, 300));
        expect(wakes).toBe(afterInsert);
        // Lanes given back by a stopping process are announced too.
        expect((await ledger.claimLanes('N', 1000, now, 30_000)).map((l) => l.chat)).toContain('notify@s.whatsapp.net');
        await ledger.releaseLanes('N');
        expect(await until(() => wakes > afterInsert, 3000)).toBe(true);
        expect((await ledger.claimLanes('N', 1000, now, 30_000)).map((l) => l.chat)).toContain('notify@s.whatsapp.net');
        const head = await ledger.laneHead('inst1', 'notify@s.whatsapp.net', 'skip');
        await ledger.complete([{ messageId: head!.id, instance: 'inst1', chat: 'notify@s.whatsapp.net', owner: 'N', outcome: { state: 'skipped', reason: 'test' }, keepLeaseUntil: null, nowMs: now, deadPolicy: 'skip' }]);
        await ledger.releaseLanes('N');
      } finally {
        await listener.stop();
      }
    });

    identityConformance(() => ledger);
    operatorConformance(() => ledger);
    agentReplyConformance(() => ledger);
  });
}
