import type { WaStatus } from '../domain/agent-reply.js';
import type { ChatwootApi } from './api.js';
import type { Result } from './http.js';

/**
 * `PATCH /conversations/{c}/messages/{id}` with `status` (and `external_error` for failed): the
 * only way to show WhatsApp's sent/delivered/read/failed on an API-inbox message (reference §3.4,
 * §9). Needs a user token; Chatwoot silently ignores read → delivered, and clears external_error
 * on any status but failed.
 */
export function patchMessageStatus(api: ChatwootApi, conversationId: number, messageId: number, status: WaStatus, externalError: string | null = null, signal?: AbortSignal): Promise<Result<unknown>> {
  return api.http.request<unknown>({
    method: 'PATCH',
    path: `/api/v1/accounts/${api.target.accountId}/conversations/${conversationId}/messages/${messageId}`,
    json: status === 'failed' ? { status, external_error: (externalError ?? 'not sent').slice(0, 500) } : { status },
    signal,
  });
}
