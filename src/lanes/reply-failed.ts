import { patchMessageStatus } from '../chatwoot/message-status.js';
import type { AgentReply } from '../domain/agent-reply.js';
import { coerceError } from '../errors.js';
import type { LedgerMessage } from '../ledger/ledger.js';
import type { WhatsAppHandlerDeps } from './whatsapp-deps.js';

/**
 * A reply evosync gives up on is shown failed in Chatwoot, with the reason, so the agent sees it
 * and can press Retry. Best effort: the reply is dead in the ledger (visible, retryable) either way.
 */
export async function showFailedInChatwoot(deps: WhatsAppHandlerDeps, row: LedgerMessage, reply: AgentReply, error: string): Promise<void> {
  const api = deps.apiFor(reply.instance);
  const gate = deps.gateFor(api);
  if (!gate.isOpen(deps.clock.now())) return;
  try {
    const r = await patchMessageStatus(api, reply.cwConversationId, reply.cwMessageId, 'failed', `evosync: ${error}`);
    if (r.ok) {
      gate.recordSuccess();
      await deps.ledger.setWaStatus(row.id, 'failed', deps.clock.now());
    } else {
      deps.logger.warn({ cwMessageId: reply.cwMessageId, error: r.failure.message }, 'could not mark the reply failed in Chatwoot');
    }
  } catch (error_) {
    deps.logger.warn({ err: coerceError(error_), cwMessageId: reply.cwMessageId }, 'could not mark the reply failed in Chatwoot');
  }
}
