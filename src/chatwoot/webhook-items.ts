import { type AgentDelete, type AgentReply, deleteKey, replyKey } from '../domain/agent-reply.js';
import type { MessageFacts } from './webhook-payload.js';

/** WhatsApp caption limit (characters); longer text is sent as its own message before the files. */
const MAX_CAPTION = 1024;

/**
 * An agent reply as WhatsApp messages: text alone, or files with the text as the first file's
 * caption (unless it is a voice note, which has none, or too long). Each is its own lane item, so
 * each is sent and recorded once on its own.
 */
export function replyItems(facts: MessageFacts, instance: string, chat: string, nowMs: number): AgentReply[] {
  const createdAtMs = facts.createdAtMs ?? nowMs;
  // Lane order: when the agent wrote it, but never later than now (a Chatwoot clock running ahead
  // must not put the reply behind receipts and echoes that follow it).
  const timestamp = Math.floor(Math.min(createdAtMs, nowMs) / 1000);
  const base = {
    instance, chat, fromMe: true as const, timestamp, event: 'chatwoot.message_created' as const,
    accountId: facts.accountId ?? 0, inboxId: facts.inboxId ?? 0, cwMessageId: facts.cwMessageId, cwConversationId: facts.conversationId,
    inReplyTo: facts.inReplyTo, inReplyToWaId: facts.inReplyToWaId, senderName: facts.senderName, createdAtMs,
  };
  const text = facts.content;
  const files = facts.attachments;
  const textApart = text.trim() !== '' && (files.length === 0 || files[0]?.fileType === 'audio' || text.length > MAX_CAPTION);
  const parts: { text: string; attachment: AgentReply['attachment'] }[] = [];
  if (textApart) parts.push({ text, attachment: null });
  files.forEach((f, i) => parts.push({ text: !textApart && i === 0 ? text : '', attachment: f }));
  return parts.map((p, part) => ({ ...base, waId: replyKey(facts.cwMessageId, part), part, ...p }));
}

export function deleteItem(facts: MessageFacts, instance: string, chat: string, nowMs: number): AgentDelete {
  return {
    instance, chat, fromMe: true, timestamp: Math.floor(nowMs / 1000), event: 'chatwoot.message_deleted',
    waId: deleteKey(facts.cwMessageId), cwMessageId: facts.cwMessageId, cwConversationId: facts.conversationId,
    sourceWaId: facts.sourceId?.startsWith('WAID:') ? facts.sourceId.slice(5) || null : null,
  };
}
