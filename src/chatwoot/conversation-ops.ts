import type { ChatwootApi, CwMessage } from './api.js';
import type { Result } from './http.js';

/**
 * Conversation and message calls beyond api.ts (reference chatwoot-api.md §3.3, §3.4): status
 * changes, the soft delete, and posting into a conversation with a look-up for a lost answer.
 */
const account = (api: ChatwootApi) => `/api/v1/accounts/${api.target.accountId}`;

/**
 * POST toggle_status with an explicit status (never the bare toggle, which flips open⇄resolved).
 * An agent-role token re-assigns the conversation to itself on `open`: evosync asks for an admin.
 */
export function setConversationStatus(api: ChatwootApi, conversationId: number, status: 'open' | 'pending'): Promise<Result<unknown>> {
  return api.http.request({ method: 'POST', path: `${account(api)}/conversations/${conversationId}/toggle_status`, json: { status } });
}

/** DELETE …/messages/{id}: Chatwoot's soft delete ("This message was deleted", content_attributes.deleted). */
export function deleteMessage(api: ChatwootApi, conversationId: number, messageId: number): Promise<Result<CwMessage>> {
  return api.http.request<CwMessage>({ method: 'DELETE', path: `${account(api)}/conversations/${conversationId}/messages/${messageId}` });
}

/**
 * The message with this source_id among those after `afterId` (Chatwoot has no look-up by
 * source_id): pages forward 100 at a time. null when not there.
 */
export async function findBySourceId(api: ChatwootApi, conversationId: number, sourceId: string, afterId: number): Promise<Result<number | null>> {
  let cursor = afterId;
  for (let page = 0; page < 1000; page++) {
    const r = await api.messagesAfter(conversationId, cursor);
    if (!r.ok) return r;
    const hit = r.value.find((m) => m.source_id === sourceId);
    if (hit) return { ok: true, status: 200, value: hit.id };
    if (r.value.length < 100) return { ok: true, status: 200, value: null };
    cursor = Math.max(...r.value.map((m) => m.id));
  }
  return { ok: true, status: 200, value: null };
}
