import { sourceIdOf } from '../chatwoot/deliver-to-chatwoot.js';
import { mayHaveBeenApplied } from '../chatwoot/classify.js';
import { findBySourceId } from '../chatwoot/conversation-ops.js';
import { isMessageEdit } from '../domain/wa-events.js';
import type { LaneHandler } from './dispatcher.js';
import { messageEventHandler, type MessageEventDeps } from './message-event-handler.js';

/**
 * A WhatsApp edit in Chatwoot. Chatwoot's API cannot change a message's content (only its status:
 * reference chatwoot-api.md §3.4, §11), so the edit is a new message in the original's conversation
 * that quotes it (`in_reply_to`), marked as an edit. Its source_id is the edit's own key
 * (`WAID:<id>#edit:<ms>`), never the original's: Evolution's built-in integration reuses the
 * original's and so breaks every look-up by source_id (reference §5.5 #11).
 */
export function waEditHandler(deps: MessageEventDeps): LaneHandler {
  return messageEventHandler(deps, isMessageEdit, async (api, { row, item, target, cwMessageId, cwConversationId, suspect }) => {
    const sourceId = sourceIdOf(item.waId);
    if (row.maybeSent || suspect) {
      // An earlier attempt may have posted it: look (after the original, where it must be) first.
      const found = await findBySourceId(api, cwConversationId, sourceId, cwMessageId);
      if (!found.ok) return { ok: false, failure: found.failure, maybeSent: true };
      if (found.value !== null) return { ok: true, cwMessageId: found.value, cwConversationId };
    }
    const outgoing = target.direction === 'to_whatsapp' || target.fromMe;
    const attributes: Record<string, unknown> = { in_reply_to: cwMessageId, external_created_at: item.timestamp, evosync_edit_of: item.targetWaId };
    // Our own messages' echoes are marked as such, so the Chatwoot → WhatsApp side never sends them.
    if (outgoing) attributes['external_echo'] = true;
    const created = await api.createMessage(cwConversationId, {
      content: `✏️ Edited: ${item.text}`,
      message_type: outgoing ? 'outgoing' : 'incoming',
      private: false,
      source_id: sourceId,
      content_attributes: attributes,
    });
    if (created.ok) return { ok: true, cwMessageId: created.value.id, cwConversationId };
    if (created.failure.kind === 'not_found') return { ok: 'skip', reason: `the conversation of the edited message (${cwConversationId}) no longer exists` };
    return { ok: false, failure: created.failure, maybeSent: row.maybeSent || mayHaveBeenApplied(created.failure) };
  });
}
