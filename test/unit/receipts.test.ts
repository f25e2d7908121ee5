import { describe, expect, it } from 'vitest';
import { isStatusAdvance } from '../../src/domain/agent-reply.js';
import { normalizeEnvelope } from '../../src/evolution/normalize.js';

const receipt = (data: Record<string, unknown>) => ({ event: 'messages.update', instance: 'inst1', data, date_time: '2025-10-21T11:40:39.000Z', sender: 'me@s.whatsapp.net', apikey: null });

describe('messages.update receipts', () => {
  it('a receipt of our own message becomes a lane item keyed by message and status', () => {
    const n = normalizeEnvelope(receipt({ keyId: '3EB0AA', remoteJid: '5511999998888@s.whatsapp.net', fromMe: true, participant: null, status: 'DELIVERY_ACK', instanceId: 'c1', messageId: 'row1' }));
    expect(n.kind).toBe('messages');
    if (n.kind !== 'messages') return;
    expect(n.messages).toHaveLength(1);
    expect(n.messages[0]).toMatchObject({ waId: '3EB0AA#status:DELIVERY_ACK', chat: '5511999998888@s.whatsapp.net', event: 'messages.update', targetWaId: '3EB0AA', status: 'delivered', fromMe: true });
    const played = normalizeEnvelope(receipt({ keyId: 'X', remoteJid: '5511999998888@s.whatsapp.net', fromMe: true, status: 'PLAYED' }));
    expect(played.kind === 'messages' && played.messages[0]).toMatchObject({ status: 'read' });
  });

  it("skips customers' receipts and non-delivery statuses, refuses malformed ones", () => {
    const theirs = normalizeEnvelope(receipt({ keyId: 'A', remoteJid: '5511@s.whatsapp.net', fromMe: false, status: 'READ' }));
    expect(theirs).toMatchObject({ kind: 'messages', messages: [], skipped: [{ waId: 'A' }] });
    const deleted = normalizeEnvelope(receipt({ keyId: 'B', remoteJid: '5511@s.whatsapp.net', fromMe: true, status: 'DELETED' }));
    expect(deleted).toMatchObject({ kind: 'messages', messages: [] });
    expect(normalizeEnvelope(receipt({ remoteJid: 'x@s.whatsapp.net' })).kind).toBe('refused');
  });

  it('statuses only move forward', () => {
    expect(isStatusAdvance(null, 'sent')).toBe(true);
    expect(isStatusAdvance('sent', 'delivered')).toBe(true);
    expect(isStatusAdvance('read', 'delivered')).toBe(false);
    expect(isStatusAdvance('delivered', 'sent')).toBe(false);
    expect(isStatusAdvance('read', 'read')).toBe(false);
    expect(isStatusAdvance('failed', 'delivered')).toBe(true);
  });
});
