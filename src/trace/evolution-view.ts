import type { JsonHttp } from '../chatwoot/http.js';
import { isChatMessage } from '../domain/lane-item.js';
import type { LedgerMessage } from '../ledger/ledger.js';
import { pick } from './pick.js';
import type { EvolutionView, RemoteView } from './types.js';

/** The WhatsApp id Evolution stores the message under, when there is one. */
export function evolutionKeyId(row: LedgerMessage): string | null {
  if (row.sentWaId) return row.sentWaId;
  return row.direction === 'to_chatwoot' && isChatMessage(row.message) ? row.waId : null;
}

/**
 * Evolution's stored row(s) for the message (`/chat/findMessages` by key id). Asked in the chat
 * first; then by id alone, because Evolution may store a LID chat's rows under the other JID.
 */
export async function evolutionView(http: JsonHttp | null, row: LedgerMessage): Promise<RemoteView<EvolutionView>> {
  const keyId = evolutionKeyId(row);
  if (keyId === null) return { status: 'skipped', detail: row.direction === 'to_whatsapp' ? 'not sent to WhatsApp yet' : `an event about a message (${row.event}), not one Evolution stores` };
  if (!http) return { status: 'skipped', detail: 'EVOLUTION_URL / EVOLUTION_API_KEY not set' };
  const find = (key: Record<string, string>) =>
    http.request<unknown>({ method: 'POST', path: `/chat/findMessages/${encodeURIComponent(row.instance)}`, json: { where: { key }, page: 1, offset: 10 } });
  let r = await find({ id: keyId, remoteJid: row.chat });
  if (r.ok && recordsOf(r.value).length === 0) r = await find({ id: keyId });
  if (!r.ok) return { status: 'error', detail: `findMessages: ${r.failure.message}` };
  const records = recordsOf(r.value);
  if (records.length === 0) return { status: 'not_found', detail: `Evolution has no stored message with key id ${keyId}` };
  return {
    status: 'found',
    value: { records: records.map((rec) => pick(rec, ['id', 'key', 'pushName', 'messageType', 'messageTimestamp', 'status', 'source', 'MessageUpdate', 'message'])) },
  };
}

function recordsOf(body: unknown): Record<string, unknown>[] {
  const records = (body as { messages?: { records?: unknown } } | null)?.messages?.records;
  return Array.isArray(records) ? records.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null) : [];
}
