import type { Intake } from '../ingest/intake.js';
import type { ReconcileRun } from '../ledger/ledger.js';
import { type AgentReplyScanDeps, type AgentReplyScanStats, agentRepliesInWindow } from './agent-replies.js';
import type { ReconcileRequest } from './wa-to-chatwoot.js';

export interface CwToWhatsAppDeps extends AgentReplyScanDeps {
  intake: Intake;
  /** Lane items committed per intake call. */
  batchMax: number;
}

/**
 * Chatwoot → WhatsApp reconciliation: agent replies whose webhook never reached evosync (it was
 * down, the network failed; Chatwoot does not retry) are fed to intake as the very lane items the
 * webhook would have made, source `reconcile`. Their key `cw:<chatwoot message id>` is the ledger's
 * unique key, so a reply the webhook did bring (or brings meanwhile) is a duplicate, never a second
 * send; the lane's sender then treats it like any other reply (look-ups, max age, echo).
 *
 * Memory: one page of conversations and one conversation's agent replies in the window at a time.
 * A conversation's missing replies are committed together, oldest first, so they keep their order
 * in the chat's lane even when several share a second.
 */
export async function reconcileAgentReplies(deps: CwToWhatsAppDeps, req: ReconcileRequest, run: ReconcileRun): Promise<AgentReplyScanStats> {
  const stats: AgentReplyScanStats = { conversations: 0, elsewhere: 0, givenUp: 0 };
  try {
    for await (const found of agentRepliesInWindow(deps, req, stats)) {
      run.agentCompared += found.items.length;
      const known = await deps.ledger.existingWaIds(req.instance, found.items.map((i) => i.waId));
      const missing = found.items.filter((i) => !known.has(i.waId));
      run.agentMissing += missing.length;
      for (let i = 0; i < missing.length; i += deps.batchMax) {
        const chunk = missing.slice(i, i + deps.batchMax);
        const raw = JSON.stringify({ reconcile: 'chatwoot', conversation: found.conversationId, messages: chunk.map((c) => c.waId) });
        const result = await deps.intake.accept({ kind: 'messages', instance: req.instance, event: 'chatwoot.message_created', messages: chunk, skipped: [] }, 'reconcile', raw);
        run.agentRepaired += result.inserted;
      }
    }
  } finally {
    run.agentConversations = stats.conversations;
  }
  return stats;
}
