import { deleteMessage } from '../chatwoot/conversation-ops.js';
import { isMessageDelete } from '../domain/wa-events.js';
import type { LaneHandler } from './dispatcher.js';
import { messageEventHandler, type MessageEventDeps } from './message-event-handler.js';

/**
 * A WhatsApp delete ("revoke") in Chatwoot: the soft delete, which leaves "This message was
 * deleted" in place, as WhatsApp does. Deleting is idempotent: a message already deleted, or gone
 * with its conversation (404), is the outcome wanted, so it counts as done.
 */
export function waDeleteHandler(deps: MessageEventDeps): LaneHandler {
  return messageEventHandler(deps, isMessageDelete, async (api, { cwMessageId, cwConversationId }) => {
    const r = await deleteMessage(api, cwConversationId, cwMessageId);
    if (r.ok || r.failure.kind === 'not_found') return { ok: true, cwMessageId, cwConversationId };
    return { ok: false, failure: r.failure, maybeSent: false };
  });
}
