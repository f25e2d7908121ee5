import { expect, it } from 'vitest';
import { receiptKey } from '../../src/domain/agent-reply.js';
import type { ChatMessage } from '../../src/domain/message.js';
import { deleteKey, editKey, orphanChat, type MessageDelete, type MessageEdit } from '../../src/domain/wa-events.js';
import type { Ledger, NewMessage } from '../../src/ledger/ledger.js';
import { chatMessage } from '../helpers/fixtures.js';

/**
 * Identity cases of the ledger conformance suite (LID ↔ phone, lane folding, events filed with
 * their target), run on both backends by ledger.conformance.ts. Each case uses its own instance,
 * so lanes other cases claim never interfere.
 */
export function identityConformance(getLedger: () => Ledger): void {
  const now = 2_000_000;
  const row = (message: NewMessage['message']): NewMessage => ({ message, direction: 'to_chatwoot', source: 'webhook' });
  const lidOnly = (instance: string, lid: string, over: Partial<ChatMessage> = {}) => chatMessage({ instance, chat: lid, chatPhone: null, chatLid: lid, ...over });
  const paired = (instance: string, lid: string, phone: string, over: Partial<ChatMessage> = {}) =>
    chatMessage({ instance, chat: `${phone}@s.whatsapp.net`, chatPhone: phone, chatLid: lid, ...over });

  it('identity: learns a LID ↔ phone pair once, finds it from either side, and keeps the first on a conflict', async () => {
    const ledger = getLedger();
    expect(await ledger.learnIdentity('idA', '111@lid', '5511900000001@s.whatsapp.net', now)).toBe('learned');
    expect(await ledger.learnIdentity('idA', '111@lid', '5511900000001@s.whatsapp.net', now + 1)).toBe('known');
    expect(await ledger.learnIdentity('idA', '111@lid', '5511900000002@s.whatsapp.net', now + 2)).toBe('conflict');
    expect(await ledger.learnIdentity('idA', '222@lid', '5511900000001@s.whatsapp.net', now + 3)).toBe('conflict');
    const byLid = await ledger.identityOf('idA', '111@lid');
    expect(byLid).toMatchObject({ lid: '111@lid', phoneJid: '5511900000001@s.whatsapp.net', learnedAt: now, mergedAt: now });
    expect(await ledger.identityOf('idA', '5511900000001@s.whatsapp.net')).toEqual(byLid);
    expect(await ledger.identityOf('otherInstance', '111@lid')).toBeNull();
    expect(await ledger.listIdentities('idA')).toHaveLength(1);
  });

  it('identity: learns pairs from ingested items (chat and group sender) and files a later LID-only item under the phone', async () => {
    const ledger = getLedger();
    const group = chatMessage({ instance: 'idB', chat: '1203630@g.us', chatPhone: null, isGroup: true, sender: { jid: '5521900000009@s.whatsapp.net', phone: '5521900000009', name: 'Ana', lid: '999@lid' } });
    await ledger.insertMessages([row(paired('idB', '333@lid', '5511900000003')), row(group)], now);
    expect((await ledger.identityOf('idB', '999@lid'))?.phoneJid).toBe('5521900000009@s.whatsapp.net');
    const later = lidOnly('idB', '333@lid');
    expect(await ledger.insertMessages([row(later)], now)).toEqual(['inserted']);
    const stored = await ledger.getMessage('idB', later.waId);
    expect(stored?.chat).toBe('5511900000003@s.whatsapp.net');
    expect(stored?.message).toMatchObject({ chat: '5511900000003@s.whatsapp.net', chatPhone: '5511900000003', chatLid: '333@lid' });
    // In one batch: the pair proven by the first item already decides the second's lane.
    const [a, b] = [paired('idB', '444@lid', '5511900000004', { timestamp: 10 }), lidOnly('idB', '444@lid', { timestamp: 11 })];
    await ledger.insertMessages([row(a), row(b)], now);
    expect((await ledger.getMessage('idB', b.waId))?.chat).toBe('5511900000004@s.whatsapp.net');
  });

  it('identity: folds a LID lane into the phone lane when the pair is learned: messages, order, and the Chatwoot link', async () => {
    const ledger = getLedger();
    const inst = 'idC';
    const lid = '555@lid';
    const phone = '5511900000005@s.whatsapp.net';
    const first = lidOnly(inst, lid, { timestamp: 100 });
    const second = lidOnly(inst, lid, { timestamp: 101 });
    await ledger.insertMessages([row(first), row(second)], now);
    // The first is delivered under the LID, which created a Chatwoot contact and conversation.
    const lanes = await ledger.claimLanes('C', 1000, now, 30_000);
    expect(lanes.map((l) => l.chat)).toContain(lid);
    const head = await ledger.laneHead(inst, lid, 'skip');
    expect(head?.waId).toBe(first.waId);
    await ledger.complete([{ messageId: head!.id, instance: inst, chat: lid, owner: 'C', outcome: { state: 'delivered', cwMessageId: 70, cwConversationId: 7 }, keepLeaseUntil: null, nowMs: now, deadPolicy: 'skip' }]);
    await ledger.releaseLanes('C');
    await ledger.saveChatLink({ instance: inst, chat: lid, accountId: 1, inboxId: 1, contactId: 42, contactSourceId: lid, conversationId: 7, conversationCheckedAt: now }, now);

    // Now an event names both: the phone becomes the chat's key, everything moves over.
    const third = paired(inst, lid, '5511900000005', { timestamp: 102 });
    await ledger.insertMessages([row(third)], now + 10);
    const all = await ledger.listMessages({ instance: inst });
    expect(all.map((m) => [m.waId, m.chat])).toEqual([[first.waId, phone], [second.waId, phone], [third.waId, phone]]);
    expect(all.every((m) => m.message.chat === phone)).toBe(true);
    expect((all[1]?.message as ChatMessage).chatPhone).toBe('5511900000005');
    expect(await ledger.lastDeliveredCwMessageId(inst, phone)).toBe(70);
    expect(await ledger.getChatLink(inst, lid, 1, 1)).toBeNull();
    expect(await ledger.getChatLink(inst, phone, 1, 1)).toMatchObject({ contactId: 42, conversationId: 7, chat: phone });
    expect((await ledger.identityOf(inst, lid))?.mergedAt).toBe(now + 10);
    // One lane, in WhatsApp order: the LID's pending message before the newer one.
    const claimed = await ledger.claimLanes('C2', 1000, now + 10_000, 30_000);
    expect(claimed.map((l) => l.chat)).toContain(phone);
    expect(claimed.map((l) => l.chat)).not.toContain(lid);
    expect((await ledger.laneHead(inst, phone, 'skip'))?.waId).toBe(second.waId);
    await ledger.releaseLanes('C2');
  });

  it('identity: a fold waits while a worker holds the LID lane, new items join that lane meanwhile, and it completes later', async () => {
    const ledger = getLedger();
    const inst = 'idD';
    const lid = '666@lid';
    const phone = '5511900000006@s.whatsapp.net';
    const old = lidOnly(inst, lid, { timestamp: 100 });
    await ledger.insertMessages([row(old)], now);
    expect((await ledger.claimLanes('D', 1000, now, 30_000)).map((l) => l.chat)).toContain(lid);
    const pairedMsg = paired(inst, lid, '5511900000006', { timestamp: 105 });
    await ledger.insertMessages([row(pairedMsg)], now + 1);
    expect((await ledger.identityOf(inst, lid))?.mergedAt).toBeNull();
    expect((await ledger.getMessage(inst, old.waId))?.chat).toBe(lid); // not moved from under its worker
    // Regression (fidelity acceptance run): filed under the phone, these were delivered by a second
    // lane beside the LID lane's worker, which was still creating the contact and conversation:
    // the person got two conversations. One person, one lane, until the fold.
    const next = lidOnly(inst, lid, { timestamp: 106 });
    await ledger.insertMessages([row(next)], now + 2);
    for (const m of [pairedMsg, next]) {
      const stored = await ledger.getMessage(inst, m.waId);
      expect(stored?.chat).toBe(lid);
      expect(stored?.message).toMatchObject({ chat: lid, chatPhone: '5511900000006', chatLid: lid });
    }
    expect(await ledger.mergePendingIdentities(now + 3)).toBe(0); // still leased
    await ledger.releaseLanes('D');
    expect(await ledger.mergePendingIdentities(now + 4)).toBe(1);
    for (const m of [old, pairedMsg, next]) expect((await ledger.getMessage(inst, m.waId))?.chat).toBe(phone);
    expect((await ledger.identityOf(inst, lid))?.mergedAt).toBe(now + 4);
    expect(await ledger.mergePendingIdentities(now + 5)).toBe(0);
  });

  it('receipts go to the lane of the message they refer to: a LID-keyed receipt is filed with its phone-keyed message', async () => {
    const ledger = getLedger();
    const inst = 'idF';
    const lid = '777@lid';
    const phone = '5511900000008@s.whatsapp.net';
    const own = paired(inst, lid, '5511900000008', { timestamp: 100, fromMe: true });
    await ledger.insertMessages([row(own)], now);
    // Regression (fidelity acceptance run): Evolution's receipt names the raw LID (reference §2.3,
    // §2.8). Filed in a lane of its own it waited for a message another lane delivered, and two
    // such receipts (read, delivered) made the first one give up after 3 s: a status lost.
    const receipt = (status: string, targetWaId: string) => ({
      instance: inst, waId: receiptKey(targetWaId, status), chat: lid, fromMe: true as const, timestamp: 200, event: 'messages.update' as const,
      targetWaId, status: 'read' as const, evolutionStatus: status,
    });
    await ledger.insertMessages([row(receipt('READ', own.waId)), row(receipt('DELIVERY_ACK', own.waId))], now);
    expect((await ledger.getMessage(inst, receiptKey(own.waId, 'READ')))?.chat).toBe(phone);
    expect((await ledger.getMessage(inst, receiptKey(own.waId, 'DELIVERY_ACK')))?.chat).toBe(phone);
    // A receipt overtaking its message: the known pair still puts it in the phone lane.
    await ledger.insertMessages([row(receipt('READ', 'NOT-YET'))], now);
    expect((await ledger.getMessage(inst, receiptKey('NOT-YET', 'READ')))?.chat).toBe(phone);
  });

  it('edits and deletes go to the lane of the message they refer to (or one of their own), deduplicated by derived key', async () => {
    const ledger = getLedger();
    const inst = 'idE';
    const target = chatMessage({ instance: inst, chat: '5511900000007@s.whatsapp.net', timestamp: 100 });
    await ledger.insertMessages([row(target)], now);
    const base = { instance: inst, targetWaId: target.waId, chatPhone: null, chatLid: null, isGroup: false, fromMe: false, timestamp: 200 };
    // A contact's edit: its protocolMessage key names our own JID, so the chat is unknown.
    const edit: MessageEdit = { ...base, waId: editKey(target.waId, 200_000), chat: orphanChat(target.waId), chatKnown: false, text: 'new', editedAtMs: 200_000, event: 'messages.edited' };
    const del: MessageDelete = { ...base, waId: deleteKey(target.waId), chat: '5511900000007@s.whatsapp.net', chatKnown: true, event: 'messages.delete' };
    expect(await ledger.insertMessages([row(edit), row(del), row({ ...del, timestamp: 300 })], now)).toEqual(['inserted', 'inserted', 'duplicate']);
    expect((await ledger.getMessage(inst, edit.waId))?.chat).toBe(target.chat);
    expect((await ledger.getMessage(inst, del.waId))?.event).toBe('messages.delete');
    const unknown = { ...edit, targetWaId: 'NEVER', waId: editKey('NEVER', 1) , chat: orphanChat('NEVER') };
    await ledger.insertMessages([row(unknown)], now);
    expect((await ledger.getMessage(inst, unknown.waId))?.chat).toBe(orphanChat('NEVER'));
  });
}
