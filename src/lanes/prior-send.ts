import type { Failure } from '../chatwoot/classify.js';
import type { AgentReply } from '../domain/agent-reply.js';
import { isChatMessage } from '../domain/lane-item.js';
import type { EvolutionClient } from '../evolution/client.js';
import { extractContent } from '../evolution/content.js';
import { matchesShape, type SendShape } from '../evolution/send.js';
import type { Ledger, LedgerMessage } from '../ledger/ledger.js';

/** Slack around the attempt window: Evolution's and our clocks, and its store's second resolution. */
const SLACK_MS = 15_000;
const PAGE_SIZE = 50;
const MAX_PAGES = 10;

export type PriorSend = { ok: true; waId: string | null; via: 'echo' | 'evolution' | null } | { ok: false; failure: Failure };

/**
 * Before sending again a reply whose earlier attempt may have gone through (ambiguous failure, or a
 * lane taken over from a process that died), look for what that attempt created: first its echo
 * already in the ledger, then the chat's stored messages in Evolution (`/chat/findMessages`, fromMe,
 * the attempt's time window). A match is a message of the same kind and text that no other reply
 * has claimed. A lane sends one message at a time, so nothing else of ours can be in flight in the
 * chat; what could be mistaken for the reply is only an identical message typed on the phone in the
 * same seconds, and that risk is taken rather than the risk of sending twice.
 */
export async function findPriorSend(ledger: Ledger, evolution: EvolutionClient, row: LedgerMessage, reply: AgentReply, shape: SendShape, nowMs: number, signal?: AbortSignal): Promise<PriorSend> {
  const fromTs = Math.floor((row.receivedAt - SLACK_MS) / 1000);
  const toTs = Math.ceil((nowMs + SLACK_MS) / 1000);
  const unclaimed = async (waId: string) => (await ledger.findBySentWaId(reply.instance, waId)) === null;

  for (const m of await ledger.fromMeInWindow(reply.instance, reply.chat, fromTs, toTs, 500)) {
    if (!isChatMessage(m.message)) continue;
    const c = m.message.content;
    if (matchesShape(shape, c.media?.kind ?? null, c.text) && (await unclaimed(m.waId))) return { ok: true, waId: m.waId, via: 'echo' };
  }

  // Newest first: collect every match, then take the oldest unclaimed one (the first attempt's).
  const matches: { waId: string; ts: number }[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    if (signal?.aborted) return { ok: false, failure: { kind: 'ambiguous', status: null, message: 'aborted during look-up' } };
    const r = await evolution.findMessages(reply.instance, { gte: fromTs * 1000, lte: toTs * 1000, page, pageSize: PAGE_SIZE, remoteJid: reply.chat, fromMe: true });
    if (!r.ok) return r;
    for (const rec of r.value.records) {
      if (rec.key?.fromMe !== true || typeof rec.key.id !== 'string') continue;
      const c = extractContent(rec.message ?? null, rec.messageType ?? null, rec.contextInfo ?? null);
      if (matchesShape(shape, c.media?.kind ?? null, c.text)) matches.push({ waId: rec.key.id, ts: Number(rec.messageTimestamp) || 0 });
    }
    if (page >= r.value.pages || r.value.records.length < PAGE_SIZE) break;
  }
  matches.sort((a, b) => a.ts - b.ts);
  for (const m of matches) if (await unclaimed(m.waId)) return { ok: true, waId: m.waId, via: 'evolution' };
  return { ok: true, waId: null, via: null };
}
