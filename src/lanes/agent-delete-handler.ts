import { isAgentDelete, replyKey } from '../domain/agent-reply.js';
import { deleteKey } from '../domain/wa-events.js';
import type { CompletionOutcome } from '../ledger/ledger.js';
import type { LaneHandler } from './dispatcher.js';
import { evolutionFailureOutcome } from './evolution-outcome.js';
import type { WhatsAppHandlerDeps } from './whatsapp-deps.js';

/** A reply has at most 15 files (Chatwoot's limit) plus its text. */
const MAX_PARTS = 16;

/**
 * The agent deleted a message in Chatwoot: delete it on WhatsApp for everyone. The message is an
 * agent reply (its parts' recorded WhatsApp ids) or one typed on the business phone and synced as
 * outgoing (its `WAID:` source id). A customer's message cannot be revoked and is left alone. The
 * lane item's unique key makes this happen once; revoking again after an ambiguous failure is
 * harmless.
 */
export function agentDeleteHandler(deps: WhatsAppHandlerDeps): LaneHandler {
  return async (row, _lane, signal): Promise<CompletionOutcome> => {
    const del = row.message;
    if (!isAgentDelete(del)) return { state: 'skipped', reason: `not a delete: ${row.event}` };
    const { ledger, clock } = deps;
    const waIds: string[] = [];
    for (let part = 0; part < MAX_PARTS; part++) {
      const r = await ledger.getMessage(row.instance, replyKey(del.cwMessageId, part));
      if (!r) break;
      if (r.sentWaId) waIds.push(r.sentWaId);
    }
    if (waIds.length === 0 && del.sourceWaId) {
      // Deleted on WhatsApp first: evosync's own soft delete in Chatwoot comes back as this
      // webhook, and must not be sent to WhatsApp again.
      const fromWhatsApp = await ledger.getMessage(row.instance, deleteKey(del.sourceWaId));
      if (fromWhatsApp) return { state: 'skipped', reason: 'deleted on WhatsApp already (this is the echo of applying it in Chatwoot)' };
      const synced = await ledger.getMessage(row.instance, del.sourceWaId);
      if (synced && !synced.fromMe) return { state: 'skipped', reason: "a customer's message cannot be deleted for everyone" };
      waIds.push(del.sourceWaId);
    }
    if (waIds.length === 0) return { state: 'skipped', reason: 'never sent to WhatsApp: nothing to delete' };

    const evolution = deps.evolution;
    const now = clock.now();
    if (!evolution) return { state: 'retry', error: 'EVOLUTION_NOT_CONFIGURED: set EVOLUTION_URL and EVOLUTION_API_KEY', nextAttemptAt: now + 60_000, countAttempt: false, maybeSent: false };
    const gate = deps.evolutionGate;
    if (!gate.isOpen(now)) return { state: 'retry', error: `paused: ${gate.state.reason ?? 'Evolution paused'}`, nextAttemptAt: gate.pausedUntil(), countAttempt: false, maybeSent: false };
    for (const id of waIds) {
      const r = await evolution.deleteForEveryone(row.instance, { id, remoteJid: row.chat, fromMe: true }, signal);
      if (!r.ok) {
        const at = clock.now();
        const outcome = evolutionFailureOutcome(row, r.failure, false, gate.recordFailure(r.failure, at), gate.pausedUntil(), at, deps.policy);
        if (outcome.state === 'dead') deps.logger.error({ instance: row.instance, chat: row.chat, cwMessageId: del.cwMessageId, error: outcome.error }, 'delete for everyone failed');
        return outcome;
      }
    }
    gate.recordSuccess();
    return { state: 'delivered', cwMessageId: del.cwMessageId, cwConversationId: del.cwConversationId };
  };
}
