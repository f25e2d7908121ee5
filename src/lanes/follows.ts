import { isChatMessage } from '../domain/lane-item.js';
import type { LedgerMessage } from '../ledger/ledger.js';

/**
 * Whether `next` may be sent while the outcomes of the messages sent before it (`uncommitted`,
 * their WhatsApp ids) are still being committed (pipelining; the ledger has already ruled out
 * agent replies and messages not yet due). Only a new WhatsApp message that refers to none of
 * them: an edit, delete or receipt of a message, and a message quoting it, read that message's
 * committed outcome (its Chatwoot id) from the ledger, so they wait for the commits — sent early
 * they would find it still pending and be retried, skipped or shown without their quote.
 */
export function mayFollowBeforeCommit(next: LedgerMessage, uncommitted: ReadonlySet<string>): boolean {
  const m = next.message;
  return isChatMessage(m) && (m.content.quotedId === null || !uncommitted.has(m.content.quotedId));
}
