import type { ChatwootApi, CwMessage } from '../chatwoot/api.js';
import { sourceIdOf } from '../chatwoot/deliver-to-chatwoot.js';
import type { Config } from '../config/config.js';
import type { EvolutionClient } from '../evolution/client.js';
import type { KnownWaId, Ledger } from '../ledger/ledger.js';
import { type AgentReplyScanStats, agentRepliesInWindow } from './agent-replies.js';
import { ReconcileError } from './errors.js';
import { storedPages } from './stored-messages.js';

export interface CheckRequest {
  instance: string;
  fromMs: number;
  toMs: number;
  chat: string | null;
}

export interface ChatDrift {
  chat: string;
  /** In Evolution's store, not in the ledger: the live path never saw them (reconcile repairs). */
  missingInLedger: string[];
  /** Delivered or dead in the ledger, yet not in the Chatwoot conversation. */
  missingInChatwoot: string[];
  /** source_ids present more than once in one conversation (whoever created the copies). */
  duplicatedInChatwoot: string[];
  /** Shown before a newer message although evosync had both in time. */
  outOfOrder: string[];
  /** Not drift: still to be delivered, or shown late because they reached evosync late (marked). */
  pending: number;
  lateArrivals: number;
}

/** Chatwoot → WhatsApp: the inbox's agent replies in the window against the ledger. */
export interface AgentReplyDrift {
  conversations: number;
  /** Agent reply messages compared (one per WhatsApp message a reply becomes). */
  compared: number;
  /** In Chatwoot, not in the ledger: their webhook never arrived (reconcile repairs), as `cw:<id>` keys. */
  missingInLedger: string[];
  /** In the ledger but given up (dead): never reached WhatsApp. */
  notSent: string[];
  /** Not drift: still to be sent, or written so recently that their webhook may still be on its way. */
  pending: number;
}

export interface CheckReport {
  instance: string;
  windowFrom: number;
  windowTo: number;
  chat: string | null;
  compared: number;
  unusable: number;
  chats: ChatDrift[];
  totals: {
    missingInLedger: number; missingInChatwoot: number; duplicatedInChatwoot: number; outOfOrder: number; pending: number; lateArrivals: number;
    agentRepliesMissingInLedger: number; agentRepliesNotSent: number;
  };
  /** null when agent replies were not compared (no Chatwoot → WhatsApp settings given). */
  agentReplies: AgentReplyDrift | null;
  clean: boolean;
}

export interface CheckDeps {
  client: EvolutionClient;
  ledger: Ledger;
  chatwoot: ChatwootApi;
  pageSize: number;
  /** Compare the inbox's agent replies too (Chatwoot → WhatsApp); `nowMs` is when the check started. */
  agentReplies?: { config: Config; maxAgeMs: number; nowMs: number };
}

/**
 * A reply younger than this and not in the ledger yet is counted pending, not drift: Chatwoot's
 * webhook takes two asynchronous hops (reference §6.2) and may simply not have arrived — unless
 * Chatwoot already marked the reply failed, which it does when the webhook failed (§6.5).
 */
const AGENT_REPLY_GRACE_MS = 30_000;

interface Seen {
  waId: string;
  ts: number;
  known: KnownWaId | null;
}

/** Chatwoot returns at most this many messages per `after=` page. */
const CW_PAGE = 100;

/**
 * Read-only three-way comparison for a window: Evolution's store ↔ the ledger ↔ Chatwoot. Nothing
 * is written anywhere. Unlike reconcile it keeps one small entry per message of the window, since
 * every chat is compared as a whole once Evolution has been read.
 */
export async function checkDrift(deps: CheckDeps, req: CheckRequest): Promise<CheckReport> {
  const byChat = new Map<string, Seen[]>();
  let compared = 0;
  let unusable = 0;
  const ids = new Set<string>();
  for await (const page of storedPages(deps.client, { instance: req.instance, fromMs: req.fromMs, toMs: req.toMs, chat: req.chat, pageSize: deps.pageSize })) {
    unusable += page.unusable.length;
    if (page.messages.length === 0) continue;
    const known = await deps.ledger.existingWaIds(req.instance, page.messages.map((m) => m.message.waId));
    for (const { message } of page.messages) {
      if (ids.has(message.waId)) continue; // a row seen again on a shifted page
      ids.add(message.waId);
      const list = byChat.get(message.chat) ?? [];
      list.push({ waId: message.waId, ts: message.timestamp, known: known.get(message.waId) ?? null });
      byChat.set(message.chat, list);
      compared += 1;
    }
  }

  const chats: ChatDrift[] = [];
  for (const [chat, seen] of byChat) chats.push(await checkChat(deps.chatwoot, chat, seen));
  chats.sort((a, b) => (a.chat < b.chat ? -1 : a.chat > b.chat ? 1 : 0));
  const sum = (f: (c: ChatDrift) => number) => chats.reduce((n, c) => n + f(c), 0);
  const totals = {
    missingInLedger: sum((c) => c.missingInLedger.length),
    missingInChatwoot: sum((c) => c.missingInChatwoot.length),
    duplicatedInChatwoot: sum((c) => c.duplicatedInChatwoot.length),
    outOfOrder: sum((c) => c.outOfOrder.length),
    pending: sum((c) => c.pending),
    lateArrivals: sum((c) => c.lateArrivals),
  };
  const agentReplies = deps.agentReplies ? await checkAgentReplies(deps, deps.agentReplies, req) : null;
  const agentTotals = { agentRepliesMissingInLedger: agentReplies?.missingInLedger.length ?? 0, agentRepliesNotSent: agentReplies?.notSent.length ?? 0 };
  const clean = totals.missingInLedger + totals.missingInChatwoot + totals.duplicatedInChatwoot + totals.outOfOrder + agentTotals.agentRepliesMissingInLedger + agentTotals.agentRepliesNotSent === 0;
  return { instance: req.instance, windowFrom: req.fromMs, windowTo: req.toMs, chat: req.chat, compared, unusable, chats: chats.filter((c) => hasFindings(c)), totals: { ...totals, ...agentTotals }, agentReplies, clean };
}

/** Read-only: the same scan as reconcile, one conversation's replies in memory at a time. */
async function checkAgentReplies(deps: CheckDeps, a: NonNullable<CheckDeps['agentReplies']>, req: CheckRequest): Promise<AgentReplyDrift> {
  const drift: AgentReplyDrift = { conversations: 0, compared: 0, missingInLedger: [], notSent: [], pending: 0 };
  const stats: AgentReplyScanStats = { conversations: 0, elsewhere: 0, givenUp: 0 };
  const scan = agentRepliesInWindow({ api: deps.chatwoot, ledger: deps.ledger, config: a.config, maxAgeMs: a.maxAgeMs, nowMs: a.nowMs }, req, stats);
  for await (const found of scan) {
    drift.compared += found.items.length;
    const known = await deps.ledger.existingWaIds(req.instance, found.items.map((i) => i.waId));
    for (const item of found.items) {
      const k = known.get(item.waId);
      if (!k) {
        // Chatwoot marked it failed: its webhook failed for sure, no need to wait for it.
        if (a.nowMs - item.createdAtMs < AGENT_REPLY_GRACE_MS && !found.webhookFailed.has(item.cwMessageId)) drift.pending += 1;
        else drift.missingInLedger.push(item.waId);
      } else if (k.state === 'pending') drift.pending += 1;
      else if (k.state === 'dead') drift.notSent.push(item.waId);
      // delivered: on WhatsApp; skipped: deliberately not sent (deleted first), its reason is in the ledger
    }
  }
  drift.conversations = stats.conversations;
  return drift;
}

function hasFindings(c: ChatDrift): boolean {
  return c.missingInLedger.length + c.missingInChatwoot.length + c.duplicatedInChatwoot.length + c.outOfOrder.length + c.pending + c.lateArrivals > 0;
}

async function checkChat(api: ChatwootApi, chat: string, seen: Seen[]): Promise<ChatDrift> {
  const drift: ChatDrift = { chat, missingInLedger: [], missingInChatwoot: [], duplicatedInChatwoot: [], outOfOrder: [], pending: 0, lateArrivals: 0 };
  const byConversation = new Map<number, Seen[]>();
  for (const s of seen) {
    if (!s.known) drift.missingInLedger.push(s.waId);
    else if (s.known.state === 'pending') drift.pending += 1;
    else if (s.known.state === 'dead') drift.missingInChatwoot.push(s.waId);
    else if (s.known.state === 'delivered' && s.known.cwConversationId !== null) {
      const list = byConversation.get(s.known.cwConversationId) ?? [];
      list.push(s);
      byConversation.set(s.known.cwConversationId, list);
    }
    // skipped: deliberately not sent (its reason is in the ledger)
  }
  for (const [conversationId, rows] of byConversation) {
    // From just below the window's first message: a copy made later (by anyone) has a higher id.
    const first = Math.min(...rows.map((r) => r.known?.cwMessageId ?? Number.MAX_SAFE_INTEGER));
    const shown = await readConversation(api, conversationId, first === Number.MAX_SAFE_INTEGER ? 0 : first - 1);
    const ids = new Map<string, number[]>();
    for (const m of shown) {
      if (!m.source_id) continue;
      const list = ids.get(m.source_id) ?? [];
      list.push(m.id);
      ids.set(m.source_id, list);
    }
    for (const [sourceId, list] of ids) if (list.length > 1) drift.duplicatedInChatwoot.push(sourceId);
    const placed: { s: Seen; at: number }[] = [];
    for (const r of rows) {
      const at = ids.get(sourceIdOf(r.waId))?.[0];
      if (at === undefined) drift.missingInChatwoot.push(r.waId);
      else placed.push({ s: r, at });
    }
    placed.sort((a, b) => a.at - b.at);
    let newest: Seen | null = null;
    for (const { s } of placed) {
      if (newest && s.ts < newest.ts) {
        // Late, not misordered: it reached evosync after the newer one had been sent.
        const newerSentAt = newest.known?.sentAt ?? newest.known?.deliveredAt ?? null;
        const late = s.known && newerSentAt != null && s.known.receivedAt > newerSentAt;
        if (late) drift.lateArrivals += 1;
        else drift.outOfOrder.push(s.waId);
      }
      if (!newest || s.ts > newest.ts) newest = s;
    }
  }
  return drift;
}

async function readConversation(api: ChatwootApi, conversationId: number, afterId: number): Promise<CwMessage[]> {
  const out: CwMessage[] = [];
  let cursor = afterId;
  for (;;) {
    const r = await api.messagesAfter(conversationId, cursor);
    if (!r.ok) {
      if (r.failure.kind === 'not_found') return out;
      throw new ReconcileError('CHATWOOT_FAILED', `conversation ${conversationId} messages after ${cursor}: ${r.failure.kind}: ${r.failure.message}`);
    }
    out.push(...r.value);
    if (r.value.length < CW_PAGE) return out;
    cursor = Math.max(...r.value.map((m) => m.id));
  }
}
