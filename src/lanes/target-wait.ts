import type { CompletionOutcome, Ledger, LedgerMessage } from '../ledger/ledger.js';
import type { MessageEvent } from '../domain/wa-events.js';

/** Longest pause between two looks at a target still on its way. */
const POLL_MS = 1000;

export type TargetLookup =
  | { kind: 'ready'; target: LedgerMessage; cwMessageId: number; cwConversationId: number }
  | { kind: 'outcome'; outcome: CompletionOutcome };

/**
 * The Chatwoot message an edit or delete applies to, once it exists. An event can arrive before
 * its message (Evolution publishes concurrently; a reconcile repairs a lost one later), or its
 * message can still be waiting in another lane: then it waits — a retry that counts no attempt,
 * since nothing failed — but only `waitMs` from its arrival, and then it is skipped with the reason
 * said. Its lane waits meanwhile; that bound is what keeps the chat from stalling behind it.
 */
export async function lookUpTarget(ledger: Ledger, row: LedgerMessage, item: MessageEvent, now: number, waitMs: number): Promise<TargetLookup> {
  let target = await ledger.getMessage(item.instance, item.targetWaId);
  // A message sent by an agent is known by the WhatsApp id Evolution gave it (its echo is skipped).
  if (!target || (target.state === 'skipped' && target.direction === 'to_chatwoot')) {
    target = (await ledger.findBySentWaId(item.instance, item.targetWaId)) ?? target;
  }
  if (target?.state === 'delivered') {
    if (target.cwMessageId != null && target.cwConversationId != null) {
      return { kind: 'ready', target, cwMessageId: target.cwMessageId, cwConversationId: target.cwConversationId };
    }
    return skip(`the message it refers to (${item.targetWaId}) has no Chatwoot message`);
  }
  if (target && (target.state === 'skipped' || target.state === 'dead')) {
    return skip(`the message it refers to (${item.targetWaId}) was ${target.state}${target.lastError ? `: ${target.lastError}` : ''}`);
  }
  const waited = now - row.receivedAt;
  if (waited >= waitMs) {
    const why = target ? 'is still not delivered' : 'was never received';
    return skip(`the message it refers to (${item.targetWaId}) ${why} after ${Math.round(waited / 1000)} s (EVOSYNC_REFERENCE_WAIT_MS)`);
  }
  const why = target ? 'not delivered yet' : 'not received yet';
  return {
    kind: 'outcome',
    outcome: { state: 'retry', error: `waiting: the message it refers to (${item.targetWaId}) is ${why}`, nextAttemptAt: now + Math.min(POLL_MS, waitMs - waited), countAttempt: false, maybeSent: row.maybeSent },
  };
}

function skip(reason: string): TargetLookup {
  return { kind: 'outcome', outcome: { state: 'skipped', reason } };
}
