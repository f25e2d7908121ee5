import type { Failure, FailureKind } from '../chatwoot/classify.js';
import type { ErrorCode } from '../errors.js';
import type { CompletionOutcome, LedgerMessage } from '../ledger/ledger.js';
import { backoffMs } from '../lib/backoff.js';
import type { GateVerdict } from './gate.js';
import type { RetryPolicy } from './outcome.js';

const CODE: Record<FailureKind, ErrorCode> = {
  unreachable: 'EVOLUTION_UNREACHABLE',
  ambiguous: 'EVOLUTION_AMBIGUOUS',
  rate_limited: 'EVOLUTION_UNREACHABLE',
  unauthorized: 'EVOLUTION_UNAUTHORIZED',
  server: 'EVOLUTION_SERVER_ERROR',
  not_found: 'EVOLUTION_REJECTED',
  flood: 'EVOLUTION_REJECTED',
  rejected: 'EVOLUTION_REJECTED',
};

/**
 * Whether a failed Evolution send may still have reached WhatsApp. Evolution stores and sends
 * before it answers, and a 5xx may come from anything after the send (its own DB insert, a proxy):
 * both are looked up before any second send. Only "never connected" and a 4xx are certain.
 */
export function maySendHaveHappened(f: Failure): boolean {
  return f.kind === 'ambiguous' || f.kind === 'server';
}

/** Outcome of a failed call to Evolution, in the registry's EVOLUTION_* codes. */
export function evolutionFailureOutcome(row: LedgerMessage, raw: Failure, maybeSent: boolean, verdict: GateVerdict, pausedUntil: number, now: number, policy: RetryPolicy): CompletionOutcome {
  const error = `${CODE[raw.kind]}: ${raw.message}`;
  if (verdict === 'paused') return { state: 'retry', error, nextAttemptAt: Math.max(pausedUntil, now + 50), countAttempt: false, maybeSent };
  if (raw.kind === 'rejected') return { state: 'dead', error };
  const attempt = row.attempts + 1;
  if (attempt >= policy.maxAttempts) return { state: 'dead', error: `${error} (after ${attempt} attempts)` };
  return { state: 'retry', error, nextAttemptAt: now + backoffMs(attempt, policy.retryBaseMs, policy.retryMaxMs), countAttempt: true, maybeSent };
}
