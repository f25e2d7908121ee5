import { isChatMessage } from '../domain/lane-item.js';
import type { LedgerMessage } from '../ledger/ledger.js';

/**
 * Whether `next` may be sent while `current`'s outcome is still being committed (pipelining; the
 * ledger has already ruled out agent replies and messages not yet due). Only a new WhatsApp
 * message that does not refer to `current`: an edit, delete or receipt of a message, and a message
 * quoting it, read that message's committed outcome (its Chatwoot id) from the ledger, so they wait
 * for the commit — sent early they would find it still pending and be retried, skipped or shown
 * without their quote.
 */
export function mayFollowBeforeCommit(current: LedgerMessage, next: LedgerMessage): boolean {
  const m = next.message;
  return isChatMessage(m) && m.content.quotedId !== current.waId;
}
