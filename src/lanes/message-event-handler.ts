import type { ChatwootApi } from '../chatwoot/api.js';
import type { Failure } from '../chatwoot/classify.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { CompletionOutcome, Ledger, LedgerMessage } from '../ledger/ledger.js';
import type { MessageEvent } from '../domain/wa-events.js';
import type { LaneHandler } from './dispatcher.js';
import type { UpstreamGate } from './gate.js';
import { failureOutcome, type RetryPolicy } from './outcome.js';
import { lookUpTarget } from './target-wait.js';

export interface MessageEventDeps {
  apiFor(instance: string): ChatwootApi;
  gateFor(api: ChatwootApi): UpstreamGate;
  ledger: Ledger;
  policy: RetryPolicy;
  /** EVOSYNC_REFERENCE_WAIT_MS. */
  referenceWaitMs: number;
  clock: Clock;
  logger: Logger;
}

/** What an edit or a delete does once its target is in Chatwoot. */
export type ApplyEvent<E extends MessageEvent> = (
  api: ChatwootApi,
  ctx: { row: LedgerMessage; item: E; target: LedgerMessage; cwMessageId: number; cwConversationId: number; suspect: boolean },
) => Promise<{ ok: true; cwMessageId: number; cwConversationId: number } | { ok: false; failure: Failure; maybeSent: boolean } | { ok: 'skip'; reason: string }>;

/**
 * The shared frame of the edit and delete handlers: the upstream's gate, the wait for the target,
 * then the kind's own Chatwoot call, with failures mapped like any delivery's.
 */
export function messageEventHandler<E extends MessageEvent>(deps: MessageEventDeps, isKind: (item: LedgerMessage['message']) => item is E, apply: ApplyEvent<E>): LaneHandler {
  return async (row, lane): Promise<CompletionOutcome> => {
    const item = row.message;
    if (!isKind(item)) return { state: 'skipped', reason: `not a ${row.event} item` };
    const api = deps.apiFor(row.instance);
    const gate = deps.gateFor(api);
    const now = deps.clock.now();
    if (!gate.isOpen(now)) {
      return { state: 'retry', error: `paused: ${gate.state.reason ?? 'upstream paused'}`, nextAttemptAt: gate.pausedUntil(), countAttempt: false, maybeSent: row.maybeSent };
    }
    const found = await lookUpTarget(deps.ledger, row, item, now, deps.referenceWaitMs);
    if (found.kind === 'outcome') {
      if (found.outcome.state === 'skipped') deps.logger.info({ waId: row.waId, instance: row.instance, reason: found.outcome.reason }, `${row.event} skipped`);
      return found.outcome;
    }
    const result = await apply(api, { row, item, target: found.target, cwMessageId: found.cwMessageId, cwConversationId: found.cwConversationId, suspect: lane.suspect });
    const after = deps.clock.now();
    if (result.ok === 'skip') return { state: 'skipped', reason: result.reason };
    if (result.ok) {
      gate.recordSuccess();
      return { state: 'delivered', cwMessageId: result.cwMessageId, cwConversationId: result.cwConversationId };
    }
    const verdict = gate.recordFailure(result.failure, after);
    const outcome = failureOutcome(row, result.failure, result.maybeSent, verdict, gate.pausedUntil(), after, deps.policy);
    if (outcome.state === 'dead') deps.logger.error({ waId: row.waId, instance: row.instance, error: outcome.error }, `${row.event} is dead`);
    return outcome;
  };
}
