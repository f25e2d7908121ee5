import { isChatMessage } from '../domain/lane-item.js';
import type { Ledger, LedgerMessage } from '../ledger/ledger.js';

/**
 * Evolution reports every API send back (send.message, or a fromMe messages.upsert): for an agent
 * reply, that is the reply itself, already in Chatwoot. It shares the reply's lane, so by the time
 * it is handled the reply's WhatsApp id is recorded, and the echo is recognised by it.
 */
export async function isEchoOfAgentReply(ledger: Pick<Ledger, 'findBySentWaId'>, row: LedgerMessage): Promise<boolean> {
  if (row.direction !== 'to_chatwoot' || !row.fromMe || !isChatMessage(row.message)) return false;
  return (await ledger.findBySentWaId(row.instance, row.waId)) !== null;
}

export const ECHO_REASON = 'echo of agent reply';
