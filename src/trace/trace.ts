import type { ChatwootApi } from '../chatwoot/api.js';
import type { JsonHttp } from '../chatwoot/http.js';
import type { Ledger, LedgerMessage } from '../ledger/ledger.js';
import { chatwootView } from './chatwoot-view.js';
import { evolutionView } from './evolution-view.js';
import type { LedgerView, TraceResult } from './types.js';

export interface TraceDeps {
  ledger: Ledger;
  /** The Chatwoot client of an instance's target; null when no target is configured. */
  chatwootFor(instance: string): ChatwootApi | null;
  /** Evolution's API; null without EVOLUTION_URL / EVOLUTION_API_KEY. */
  evolution: JsonHttp | null;
}

/** More rows than this for one id means the id is not specific; the rest is not looked up remotely. */
const MAX_TRACES = 10;

/**
 * One message's history across both systems: its ledger row, then what Chatwoot and Evolution hold
 * for it, asked side by side. The id may be a WhatsApp id (also an agent reply's sent-as id) or a
 * Chatwoot message id. A side that cannot be asked is reported as such, never as "missing".
 */
export async function traceMessage(deps: TraceDeps, id: string): Promise<TraceResult> {
  const query = id.trim();
  if (!query) return { query, traces: [] };
  const cwMessageId = /^\d{1,15}$/.test(query) ? Number(query) : undefined;
  const rows = await deps.ledger.searchMessages({ waId: query, ...(cwMessageId !== undefined ? { cwMessageId } : {}), limit: MAX_TRACES });
  const traces = await Promise.all(
    rows.map(async (row) => {
      const [chatwoot, evolution] = await Promise.all([chatwootView(deps.chatwootFor(row.instance), row), evolutionView(deps.evolution, row)]);
      return { ledger: ledgerView(row), chatwoot, evolution };
    }),
  );
  return { query, traces };
}

export function ledgerView(m: LedgerMessage): LedgerView {
  return {
    id: m.id, instance: m.instance, waId: m.waId, lane: { instance: m.instance, chat: m.chat }, direction: m.direction,
    source: m.source, event: m.event, fromMe: m.fromMe, waTs: m.waTs, state: m.state, attempts: m.attempts,
    maybeSent: m.maybeSent, lastError: m.lastError, nextAttemptAt: m.nextAttemptAt, receivedAt: m.receivedAt,
    deliveredAt: m.deliveredAt, cwConversationId: m.cwConversationId, cwMessageId: m.cwMessageId,
    sentWaId: m.sentWaId ?? null, waStatus: m.waStatus ?? null, message: m.message,
  };
}
