import { isReceipt, isStatusAdvance, replyKey, isAgentReply } from '../domain/agent-reply.js';
import { patchMessageStatus } from '../chatwoot/message-status.js';
import type { CompletionOutcome, LedgerMessage } from '../ledger/ledger.js';
import type { LaneHandler } from './dispatcher.js';
import { failureOutcome } from './outcome.js';
import type { WhatsAppHandlerDeps } from './whatsapp-deps.js';

/**
 * A WhatsApp receipt → the message's status in Chatwoot. The receipt may come before the message it
 * is about is known (Evolution publishes receipts in parallel with messages, and before the send's
 * answer is recorded): it then waits, without using up attempts, and is skipped if the message never
 * shows up. Statuses only move forward (sent → delivered → read); a late "sent" after "read" is
 * dropped.
 */
/**
 * How long a receipt whose message is unknown may hold up newer items of its chat. Its message is
 * normally only milliseconds behind, but Evolution downloads media before it emits the upsert and a
 * loaded ledger commits late: 3 s lost real statuses under load. The cost is bounded and rare — a
 * chat waits this long only for a receipt whose message never comes.
 */
const HOLD_UP_GRACE_MS = 10_000;

export function receiptHandler(deps: WhatsAppHandlerDeps): LaneHandler {
  return async (row, _lane, signal): Promise<CompletionOutcome> => {
    const receipt = row.message;
    if (!isReceipt(receipt)) return { state: 'skipped', reason: `not a receipt: ${row.event}` };
    const { ledger, clock } = deps;
    const now = clock.now();

    const target = await statusHolder(deps, row.instance, receipt.targetWaId);
    if (target.kind === 'gone') return { state: 'skipped', reason: target.reason };
    if (target.kind === 'unknown') {
      const waited = now - row.receivedAt;
      if (waited > deps.receiptWaitMs) return { state: 'skipped', reason: `message ${receipt.targetWaId} never became known (${Math.round(waited / 1000)} s)` };
      // A message that overtakes its receipt sorts before it (it is older), so waiting costs nothing
      // while the chat is quiet; once the chat has newer things to deliver, a receipt of a message
      // that never came (a phone reaction, a message evosync skips) must not hold them up. Other
      // receipts behind it do not count: they wait for their messages too, and typically one of
      // them is this message's own next receipt (read, then delivered, both ahead of a media
      // message Evolution was still downloading) — skipping on their account lost the "read".
      if (waited > HOLD_UP_GRACE_MS && (await heldUp(deps, row))) {
        return { state: 'skipped', reason: `message ${receipt.targetWaId} not known, and the chat has more to deliver` };
      }
      // Whole milliseconds: the ledger's times are bigints, and PostgreSQL refuses "….25", failing the
      // whole completion batch (every lane in it) until the lanes were given up as suspect.
      return { state: 'retry', error: `waiting for message ${receipt.targetWaId}`, nextAttemptAt: now + Math.min(5_000, Math.max(250, Math.round(waited / 4))), countAttempt: false, maybeSent: false };
    }
    const { holder, cwConversationId, cwMessageId } = target;
    if (!isStatusAdvance(holder.waStatus, receipt.status)) return { state: 'skipped', reason: `status ${receipt.status} after ${holder.waStatus}: statuses never go back` };

    const api = deps.apiFor(row.instance);
    const gate = deps.gateFor(api);
    if (!gate.isOpen(now)) return { state: 'retry', error: `paused: ${gate.state.reason ?? 'upstream paused'}`, nextAttemptAt: gate.pausedUntil(), countAttempt: false, maybeSent: false };
    const error = receipt.status === 'failed' ? `WhatsApp reported ${receipt.evolutionStatus}` : null;
    const r = await patchMessageStatus(api, cwConversationId, cwMessageId, receipt.status, error, signal);
    const at = clock.now();
    deps.metrics?.attempt(row.direction, at - now);
    if (r.ok) {
      gate.recordSuccess();
      await ledger.setWaStatus(holder.id, receipt.status, at);
      return { state: 'delivered', cwMessageId, cwConversationId };
    }
    if (r.failure.kind === 'not_found') return { state: 'skipped', reason: 'the message is gone from Chatwoot' };
    // A status change is idempotent: it may be retried freely, nothing is ever duplicated.
    return failureOutcome(row, r.failure, false, gate.recordFailure(r.failure, at), gate.pausedUntil(), at, deps.policy);
  };
}

/** Whether anything but receipts waits behind this one in its chat (a few looked at: it is rare). */
async function heldUp(deps: WhatsAppHandlerDeps, row: LedgerMessage): Promise<boolean> {
  const pending = await deps.ledger.listMessages({ instance: row.instance, chat: row.chat, state: 'pending', limit: 50 });
  return pending.some((m) => m.id !== row.id && !isReceipt(m.message));
}

type Holder =
  | { kind: 'known'; holder: LedgerMessage; cwConversationId: number; cwMessageId: number }
  | { kind: 'unknown' }
  | { kind: 'gone'; reason: string };

/**
 * Whose status a receipt changes: an agent reply sent as this WhatsApp id (the status is kept on the
 * reply's first part, so several parts never move it backwards), or a message typed on the business
 * phone and synced to Chatwoot as outgoing.
 */
async function statusHolder(deps: WhatsAppHandlerDeps, instance: string, waId: string): Promise<Holder> {
  const sent = await deps.ledger.findBySentWaId(instance, waId);
  if (sent && isAgentReply(sent.message)) {
    const reply = sent.message;
    const first = reply.part === 0 ? sent : await deps.ledger.getMessage(instance, replyKey(reply.cwMessageId));
    return { kind: 'known', holder: first ?? sent, cwConversationId: reply.cwConversationId, cwMessageId: reply.cwMessageId };
  }
  const synced = await deps.ledger.getMessage(instance, waId);
  if (!synced) return { kind: 'unknown' };
  if (synced.state === 'pending') return { kind: 'unknown' };
  if (synced.state !== 'delivered' || synced.cwMessageId === null || synced.cwConversationId === null) return { kind: 'gone', reason: `message ${waId} is ${synced.state}, not in Chatwoot` };
  return { kind: 'known', holder: synced, cwConversationId: synced.cwConversationId, cwMessageId: synced.cwMessageId };
}
