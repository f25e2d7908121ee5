import { type AgentReply, isAgentReply, replyKey } from '../domain/agent-reply.js';
import { isChatMessage } from '../domain/lane-item.js';
import type { QuotedRef } from '../evolution/client.js';
import type { Ledger } from '../ledger/ledger.js';
import { whatsappText } from '../evolution/send.js';

/**
 * The WhatsApp message an agent quoted. Chatwoot gives the quoted message's `source_id` when it
 * has one (a WhatsApp message evosync synced: `WAID:<id>`); an agent reply has none, so its
 * WhatsApp id comes from the ledger (reference §5.3). Unknown → sent without the quote.
 */
export async function quotedRef(ledger: Ledger, reply: AgentReply, signature: boolean): Promise<QuotedRef | null> {
  if (reply.inReplyToWaId) {
    const row = await ledger.getMessage(reply.instance, reply.inReplyToWaId);
    const text = row && isChatMessage(row.message) ? row.message.content.text : null;
    return { key: { id: reply.inReplyToWaId, remoteJid: reply.chat, fromMe: row?.fromMe ?? false }, ...(text ? { message: { conversation: text } } : {}) };
  }
  if (reply.inReplyTo) {
    const row = await ledger.getMessage(reply.instance, replyKey(reply.inReplyTo));
    if (!row?.sentWaId || !isAgentReply(row.message)) return null;
    const text = whatsappText(row.message, signature);
    return { key: { id: row.sentWaId, remoteJid: reply.chat, fromMe: true }, ...(text ? { message: { conversation: text } } : {}) };
  }
  return null;
}
