import type { ChatwootApi } from '../chatwoot/api.js';
import type { LedgerMessage } from '../ledger/ledger.js';
import { pick } from './pick.js';
import type { ChatwootView, RemoteView } from './types.js';

/** The Chatwoot ids of a ledger row: recorded on delivery, or carried by an agent reply from the start. */
export function chatwootIds(row: LedgerMessage): { conversationId: number | null; messageId: number | null } {
  const item = row.message as { cwConversationId?: unknown; cwMessageId?: unknown };
  const num = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);
  return { conversationId: row.cwConversationId ?? num(item.cwConversationId), messageId: row.cwMessageId ?? num(item.cwMessageId) };
}

/**
 * The conversation by its id, then the message by its id: Chatwoot has no "get one message"
 * endpoint, so it is the first message after id − 1 in that conversation.
 */
export async function chatwootView(api: ChatwootApi | null, row: LedgerMessage): Promise<RemoteView<ChatwootView>> {
  if (!api) return { status: 'skipped', detail: 'no Chatwoot target configured for this instance' };
  const { conversationId, messageId } = chatwootIds(row);
  if (conversationId === null) return { status: 'skipped', detail: 'no Chatwoot conversation recorded yet (not delivered)' };
  const conv = await api.getConversation(conversationId);
  if (!conv.ok) {
    return conv.failure.kind === 'not_found'
      ? { status: 'not_found', detail: `conversation ${conversationId} does not exist in Chatwoot` }
      : { status: 'error', detail: `conversation ${conversationId}: ${conv.failure.message}` };
  }
  const conversation = pick(conv.value as unknown as Record<string, unknown>, ['id', 'inbox_id', 'status', 'created_at', 'last_activity_at', 'contact_inbox', 'meta']);
  if (messageId === null) return { status: 'found', value: { conversation, message: null } };
  const page = await api.messagesAfter(conversationId, messageId - 1);
  if (!page.ok) return { status: 'error', detail: `messages of conversation ${conversationId}: ${page.failure.message}` };
  const found = page.value.find((m) => m.id === messageId);
  if (!found) return { status: 'not_found', detail: `message ${messageId} is not in conversation ${conversationId}` };
  const message = pick(found as unknown as Record<string, unknown>, ['id', 'conversation_id', 'message_type', 'content', 'source_id', 'status', 'private', 'created_at', 'content_attributes', 'attachments']);
  return { status: 'found', value: { conversation, message } };
}
