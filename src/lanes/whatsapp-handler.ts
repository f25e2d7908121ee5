import { fetchAttachment } from '../chatwoot/attachment-fetch.js';
import { type AgentReply, deleteKey, isAgentReply, type Receipt, receiptKey } from '../domain/agent-reply.js';
import { WHATSAPP_MAX_MEDIA_BYTES } from '../evolution/media-limits.js';
import { mimeOf, sendRequest, shapeOf } from '../evolution/send.js';
import type { CompletionOutcome, LedgerMessage } from '../ledger/ledger.js';
import { backoffMs } from '../lib/backoff.js';
import type { LaneHandler } from './dispatcher.js';
import { evolutionFailureOutcome, maySendHaveHappened } from './evolution-outcome.js';
import { findPriorSend } from './prior-send.js';
import { quotedRef } from './quoted.js';
import { showFailedInChatwoot } from './reply-failed.js';
import type { WhatsAppHandlerDeps } from './whatsapp-deps.js';

/**
 * Chatwoot → WhatsApp: sends one part of an agent reply through Evolution, never twice. Evolution's
 * send has no idempotency key, so (1) the WhatsApp id it answers is written to the ledger before
 * anything else happens, and (2) an attempt that may have gone through (ambiguous failure, 5xx, a
 * lane taken over from a dead process) is looked up — echo in the ledger, then Evolution's store —
 * before the reply is sent again.
 */
export function whatsappHandler(deps: WhatsAppHandlerDeps): LaneHandler {
  return async (row, lane, signal): Promise<CompletionOutcome> => {
    const reply = row.message;
    if (!isAgentReply(reply)) return { state: 'skipped', reason: `not an agent reply: ${row.event}` };
    const delivered: CompletionOutcome = { state: 'delivered', cwMessageId: reply.cwMessageId, cwConversationId: reply.cwConversationId };
    // Sent, but the lane's completion was lost (crash, database hiccup): the recorded id settles it.
    if (row.sentWaId) return delivered;

    const { ledger, clock, logger } = deps;
    const started = clock.now();
    const log = { instance: row.instance, chat: row.chat, cwMessageId: reply.cwMessageId, part: reply.part, attempt: row.attempts + 1 };
    const giveUp = async (error: string): Promise<CompletionOutcome> => {
      logger.error({ ...log, error }, 'agent reply not sent');
      await showFailedInChatwoot(deps, row, reply, error);
      return { state: 'dead', error };
    };

    // A reply that may already be on WhatsApp is looked up before anything else is decided about it.
    const mayBeOut = row.maybeSent || lane.suspect;
    const tooOld = started - reply.createdAtMs > deps.maxAgeMs ? `AGENT_REPLY_TOO_OLD: written ${Math.round((started - reply.createdAtMs) / 60_000)} min ago, over EVOSYNC_AGENT_REPLY_MAX_AGE_MS` : null;
    if (tooOld && !mayBeOut) return giveUp(tooOld);
    const evolution = deps.evolution;
    if (!evolution) return { state: 'retry', error: 'EVOLUTION_NOT_CONFIGURED: set EVOLUTION_URL and EVOLUTION_API_KEY', nextAttemptAt: started + 60_000, countAttempt: false, maybeSent: row.maybeSent };
    const gate = deps.evolutionGate;
    if (!gate.isOpen(started)) {
      return { state: 'retry', error: `paused: ${gate.state.reason ?? 'Evolution paused'}`, nextAttemptAt: gate.pausedUntil(), countAttempt: false, maybeSent: row.maybeSent };
    }

    // The file is fetched first: whether it goes as an image or a document depends on its type.
    const policy = {
      chatwootUrl: deps.apiFor(row.instance).target.url,
      allowedHosts: deps.media?.allowedHosts ?? [],
      maxBytes: Math.min(WHATSAPP_MAX_MEDIA_BYTES, deps.media?.maxBytes ?? WHATSAPP_MAX_MEDIA_BYTES),
      timeoutMs: deps.httpTimeoutMs,
    };
    const fetched = reply.attachment ? await fetchAttachment(reply.attachment.url, policy, signal) : null;
    const file = fetched?.ok ? fetched : null;
    const shape = shapeOf(reply, deps.signature, reply.attachment ? mimeOf(reply.attachment.contentType, file?.contentType ?? null) : null, file?.bytes.length);

    if (mayBeOut) {
      const prior = await findPriorSend(ledger, evolution, row, reply, shape, clock.now(), signal);
      if (!prior.ok) {
        const now = clock.now();
        const verdict = gate.recordFailure(prior.failure, now);
        // The look-up itself failed: still possibly sent, so the next attempt looks again.
        return evolutionFailureOutcome(row, { ...prior.failure, kind: prior.failure.kind === 'rejected' ? 'server' : prior.failure.kind }, true, verdict, gate.pausedUntil(), now, deps.policy);
      }
      deps.metrics?.lookup(prior.waId ? 'found' : 'not_found');
      if (prior.waId) {
        logger.info({ ...log, waId: prior.waId, via: prior.via }, 'agent reply was already on WhatsApp; not sent again');
        await recordSent(deps, row, reply, prior.waId);
        return delivered;
      }
    }
    if (tooOld) return giveUp(tooOld);
    if (fetched && !fetched.ok) {
      const error = `ATTACHMENT_UNAVAILABLE: ${fetched.failure.message}`;
      if (fetched.failure.kind === 'rejected') return giveUp(error);
      if (row.attempts + 1 >= deps.policy.maxAttempts) return giveUp(`${error} (after ${row.attempts + 1} attempts)`);
      return { state: 'retry', error, nextAttemptAt: clock.now() + backoffMs(row.attempts + 1, deps.policy.retryBaseMs, deps.policy.retryMaxMs), countAttempt: true, maybeSent: row.maybeSent };
    }
    // Deleted by the agent before it could be sent (the delete waits behind it in the lane).
    if (await ledger.getMessage(row.instance, deleteKey(reply.cwMessageId))) return { state: 'skipped', reason: 'deleted in Chatwoot before it was sent' };

    const request = sendRequest(reply, shape, await quotedRef(ledger, reply, deps.signature), file);
    const result = await evolution.send(row.instance, request, signal);
    const now = clock.now();
    deps.metrics?.attempt(row.direction, now - started);
    if (result.ok) {
      gate.recordSuccess();
      await recordSent(deps, row, reply, result.value.waId);
      logger.debug({ ...log, waId: result.value.waId, durationMs: now - started }, 'agent reply sent to WhatsApp');
      return delivered;
    }
    const maybeSent = row.maybeSent || maySendHaveHappened(result.failure);
    const verdict = gate.recordFailure(result.failure, now);
    const outcome = evolutionFailureOutcome(row, result.failure, maybeSent, verdict, gate.pausedUntil(), now, deps.policy);
    if (outcome.state === 'dead') return giveUp(outcome.error);
    if (outcome.state === 'retry' && outcome.countAttempt) logger.warn({ ...log, error: outcome.error, maybeSent, retryInMs: outcome.nextAttemptAt - now }, 'agent reply send failed; will retry');
    return outcome;
  };
}

/**
 * Writes the WhatsApp id at once, and queues the "sent" status for Chatwoot as the receipt
 * Evolution itself would report (SERVER_ACK), so a real one arriving later is the same item.
 */
async function recordSent(deps: WhatsAppHandlerDeps, row: LedgerMessage, reply: AgentReply, waId: string): Promise<void> {
  const now = deps.clock.now();
  await deps.ledger.recordSentWaId(row.id, waId, now);
  const receipt: Receipt = {
    instance: row.instance, waId: receiptKey(waId, 'SERVER_ACK'), chat: row.chat, fromMe: true, timestamp: Math.max(reply.timestamp, Math.floor(now / 1000)),
    event: 'messages.update', targetWaId: waId, status: 'sent', evolutionStatus: 'SERVER_ACK',
  };
  await deps.ledger.insertMessages([{ message: receipt, direction: 'to_chatwoot', source: 'webhook' }], now);
}
