import { z } from 'zod';
import { receiptKey, type Receipt, type WaStatus } from '../domain/agent-reply.js';
import { isPhoneJid, normalizePhoneJid } from './jid.js';
import type { Normalized } from './normalize.js';

/**
 * MESSAGES_UPDATE (reference §2.3): `{keyId, remoteJid, fromMe, participant, status, instanceId,
 * messageId?}`, one per receipt. Only receipts of messages sent from the business number matter to
 * Chatwoot (a customer's message has no status there worth changing); each becomes a lane item of
 * its chat keyed by message and status, so a redelivered receipt is a duplicate and two statuses of
 * one message are applied in the order they came.
 */
const ReceiptSchema = z.looseObject({
  keyId: z.string().min(1).max(256),
  remoteJid: z.string().min(3).max(256),
  fromMe: z.boolean().nullish(),
  participant: z.string().nullish(),
  status: z.string().nullish(),
});

/** Evolution's status names (Baileys' WAMessageStatus) → Chatwoot's message status. */
const STATUS: Record<string, WaStatus> = {
  SERVER_ACK: 'sent',
  DELIVERY_ACK: 'delivered',
  READ: 'read',
  PLAYED: 'read',
  ERROR: 'failed',
};

export function normalizeReceipts(instance: string, data: unknown, nowMs: number = Date.now()): Normalized {
  const event = 'messages.update';
  const items = Array.isArray(data) ? data : [data];
  if (items.length === 0) return { kind: 'ignored', instance, event, reason: 'empty data' };
  const messages: Receipt[] = [];
  const skipped: { waId: string; reason: string }[] = [];
  for (const [i, item] of items.entries()) {
    const parsed = ReceiptSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = `${event} data${items.length > 1 ? `[${i}]` : ''}`;
      return { kind: 'refused', code: 'PAYLOAD_INVALID', reason: `${where}: ${issue ? `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` : 'invalid'}`, instance, event };
    }
    const r = parsed.data;
    const evolutionStatus = (r.status ?? '').toUpperCase();
    const status = STATUS[evolutionStatus];
    if (!r.fromMe) {
      skipped.push({ waId: r.keyId, reason: 'receipt of a customer message' });
      continue;
    }
    if (!status) {
      // PENDING says nothing new; DELETED (2.3.6's name for an update without a status) is a revoke.
      skipped.push({ waId: r.keyId, reason: `status ${evolutionStatus || '(none)'} is not a delivery status` });
      continue;
    }
    // The chat as normalize.resolveChat keys it when only remoteJid is known (a receipt has no alternate).
    const chat = isPhoneJid(r.remoteJid) ? normalizePhoneJid(r.remoteJid) : r.remoteJid;
    messages.push({
      instance,
      waId: receiptKey(r.keyId, evolutionStatus),
      chat,
      fromMe: true,
      // A receipt carries no time of its own; it is about something already sent, so it sorts
      // after what the chat holds now.
      timestamp: Math.floor(nowMs / 1000),
      event,
      targetWaId: r.keyId,
      status,
      evolutionStatus,
    });
  }
  return { kind: 'messages', instance, event, messages, skipped };
}
