import { isChatMessage } from '../domain/lane-item.js';
import type { ChatwootApi } from '../chatwoot/api.js';
import type { ChatwootDelivery } from '../chatwoot/deliver-to-chatwoot.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompletionOutcome, LedgerMessage } from '../ledger/ledger.js';
import type { DeliveryRecorder } from '../metrics/recorders.js';
import type { LaneHandler } from './dispatcher.js';
import { ECHO_REASON } from './echo.js';
import type { UpstreamGate } from './gate.js';
import { failureOutcome, type RetryPolicy } from './outcome.js';

export interface ChatwootHandlerDeps {
  apiFor(instance: string): ChatwootApi;
  gateFor(api: ChatwootApi): UpstreamGate;
  delivery: ChatwootDelivery;
  policy: RetryPolicy;
  clock: Clock;
  logger: Logger;
  metrics?: DeliveryRecorder;
  /** Recognises the WhatsApp echo of evosync's own agent reply (lanes/echo.ts), which is skipped. */
  isEcho?: (row: LedgerMessage) => Promise<boolean>;
}

/** WhatsApp → Chatwoot: deliver a lane's head through the upstream's gate and map the result. */
export function chatwootHandler(deps: ChatwootHandlerDeps): LaneHandler {
  return async (row, lane, signal): Promise<CompletionOutcome> => {
    const api = deps.apiFor(row.instance);
    const gate = deps.gateFor(api);
    const started = deps.clock.now();
    if (!gate.isOpen(started)) {
      return { state: 'retry', error: `paused: ${gate.state.reason ?? 'upstream paused'}`, nextAttemptAt: gate.pausedUntil(), countAttempt: false, maybeSent: row.maybeSent };
    }
    const msg = row.message;
    if (!isChatMessage(msg)) return { state: 'skipped', reason: `not a WhatsApp message: ${row.event}` };
    if (msg.fromMe && (await deps.isEcho?.(row))) return { state: 'skipped', reason: ECHO_REASON };
    const result = await deps.delivery.deliver(api, row, msg, { suspect: lane.suspect, signal });
    const now = deps.clock.now();
    deps.metrics?.attempt(row.direction, now - started);
    // Built only for a line that is written: a delivery at the default level logs nothing.
    const log = () => ({ messageId: row.id, waId: row.waId, instance: row.instance, chat: row.chat, attempt: row.attempts + 1, durationMs: now - started });
    if (result.kind === 'delivered') {
      gate.recordSuccess();
      if (deps.logger.isLevelEnabled('debug')) deps.logger.debug({ ...log(), cwMessageId: result.cwMessageId, recovered: result.recovered }, 'delivered to Chatwoot');
      if (result.mediaUnavailable) deps.logger.warn({ ...log(), code: 'MEDIA_UNAVAILABLE', cwMessageId: result.cwMessageId, reason: result.mediaUnavailable }, 'media not available; delivered with a placeholder');
      return { state: 'delivered', cwMessageId: result.cwMessageId, cwConversationId: result.cwConversationId };
    }
    // A failed media fetch is Evolution's, not Chatwoot's: it must not pause delivery to Chatwoot.
    const verdict = result.upstream === 'evolution' ? 'counted' : gate.recordFailure(result.failure, now);
    const outcome = failureOutcome(row, result.failure, result.maybeSent, verdict, gate.pausedUntil(), now, deps.policy);
    if (outcome.state === 'dead') deps.logger.error({ ...log(), error: outcome.error }, 'message is dead');
    else if (outcome.state === 'retry' && outcome.countAttempt) deps.logger.warn({ ...log(), error: outcome.error, retryInMs: outcome.nextAttemptAt - now, maybeSent: outcome.maybeSent }, 'delivery failed; will retry');
    return outcome;
  };
}
