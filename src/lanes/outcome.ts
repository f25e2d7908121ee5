import type { Failure, FailureKind } from '../chatwoot/classify.js';
import type { ErrorCode } from '../errors.js';
import type { CompletionOutcome, LedgerMessage } from '../ledger/ledger.js';
import { backoffMs, nextMinuteBoundaryMs } from '../lib/backoff.js';
import type { GateVerdict } from './gate.js';

export interface RetryPolicy {
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/**
 * What happens to a message whose attempt failed. Faults that are not the message's own (the
 * gate paused the upstream; a conversation's per-minute flood limit) wait without counting an
 * attempt; the message's own failures back off and end in `dead` after the attempt limit; a
 * permanent refusal is dead at once.
 */
/** The registry code each failure is recorded under, so `last_error` can be searched by code. */
const CODE: Record<FailureKind, ErrorCode> = {
  unreachable: 'CHATWOOT_UNREACHABLE',
  ambiguous: 'CHATWOOT_AMBIGUOUS',
  rate_limited: 'CHATWOOT_RATE_LIMITED',
  unauthorized: 'CHATWOOT_UNAUTHORIZED',
  server: 'CHATWOOT_SERVER_ERROR',
  not_found: 'CHATWOOT_REJECTED',
  flood: 'CHATWOOT_RATE_LIMITED',
  rejected: 'CHATWOOT_REJECTED',
};

export function failureOutcome(row: LedgerMessage, rawFailure: Failure, maybeSent: boolean, verdict: GateVerdict, pausedUntil: number, now: number, policy: RetryPolicy): CompletionOutcome {
  const failure = { ...rawFailure, message: `${rawFailure.code ?? CODE[rawFailure.kind]}: ${rawFailure.message}` };
  if (verdict === 'paused') {
    return { state: 'retry', error: failure.message, nextAttemptAt: Math.max(pausedUntil, now + 50), countAttempt: false, maybeSent };
  }
  if (failure.kind === 'flood') {
    return { state: 'retry', error: failure.message, nextAttemptAt: nextMinuteBoundaryMs(now), countAttempt: false, maybeSent };
  }
  if (failure.kind === 'rejected') {
    return { state: 'dead', error: failure.message };
  }
  const attempt = row.attempts + 1;
  if (attempt >= policy.maxAttempts) {
    return { state: 'dead', error: `${failure.message} (after ${attempt} attempts)` };
  }
  // A vanished conversation is found or re-created on the very next try.
  const wait = failure.kind === 'not_found' ? 0 : backoffMs(attempt, policy.retryBaseMs, policy.retryMaxMs);
  return { state: 'retry', error: failure.message, nextAttemptAt: now + wait, countAttempt: true, maybeSent };
}
