import { type ChatwootApi, CONVERSATIONS_PER_PAGE, type CwConversation, type CwMessage, MESSAGES_PER_BACKWARD_PAGE, MESSAGES_PER_RANGE_PAGE } from '../chatwoot/api.js';
import { replyItems } from '../chatwoot/webhook-items.js';
import { classifyChatwootWebhook } from '../chatwoot/webhook-payload.js';
import { resolveTarget } from '../chatwoot/webhook-target.js';
import type { Config } from '../config/config.js';
import type { AgentReply } from '../domain/agent-reply.js';
import type { Ledger } from '../ledger/ledger.js';
import { ReconcileError } from './errors.js';
import { readWithRetry } from './read-retry.js';

/**
 * Chatwoot's side of a reconcile or check: the agent replies written in an inbox during a window,
 * found without any webhook (Chatwoot never retries one, reference §6.5). Read the way the
 * reference says the API pages: the inbox's conversations newest activity first, 25 a page, until
 * one was last active before the window; in each, its messages backwards from the newest with the
 * `before` cursor, 20 a page, until one is older than the window.
 */
export interface AgentReplyScanDeps {
  api: ChatwootApi;
  ledger: Ledger;
  /** Which instance and chat a conversation belongs to is decided as for a webhook. */
  config: Config;
  nowMs: number;
  /** EVOSYNC_AGENT_REPLY_MAX_AGE_MS: older replies are never looked at, let alone sent. */
  maxAgeMs: number;
  shouldStop?: () => boolean;
}

export interface AgentReplyWindow {
  instance: string;
  fromMs: number;
  toMs: number;
  chat: string | null;
}

/** One conversation's agent replies in the window, as the lane items the webhook path would make. */
export interface ConversationReplies {
  conversationId: number;
  chat: string;
  /** Ascending by Chatwoot id, then part: the order the agent wrote them in. */
  items: AgentReply[];
  /** Chatwoot ids of the replies Chatwoot marked failed for a failed webhook (an error not evosync's). */
  webhookFailed: Set<number>;
}

export interface AgentReplyScanStats {
  conversations: number;
  /** Conversations with replies that belong to no chat of this instance (another instance, or unresolvable). */
  elsewhere: number;
  /** Agent replies skipped because evosync itself gave up on them (`evosync:` error in Chatwoot). */
  givenUp: number;
}

/**
 * Where an agent's reply starts when evosync gave up on it: its own failure text. Such a reply is
 * back in play only through the agent's Retry, never through a reconcile (after a ledger reset it
 * would otherwise be sent behind the agent's back).
 */
const GIVEN_UP_PREFIX = 'evosync:';

/**
 * Conversations whose activity moved them up the list while it was being read are looked for again
 * from its top: Chatwoot's clock may trail ours by this much.
 */
const MOVED_SLACK_S = 60;

/** How far evosync's clock (delivered_at) and Chatwoot's (created_at) may disagree. */
const CLOCK_MARGIN_MS = 5 * 60_000;

interface ScanWindow {
  fromS: number;
  toS: number;
  /** A Chatwoot message id older than the window, or null when the ledger knows none. */
  fromId: number | null;
}

export async function* agentRepliesInWindow(deps: AgentReplyScanDeps, w: AgentReplyWindow, stats: AgentReplyScanStats): AsyncGenerator<ConversationReplies> {
  const { api } = deps;
  // Never further back than the age past which a reply is not sent anyway.
  const fromS = Math.floor(Math.max(w.fromMs, deps.nowMs - deps.maxAgeMs) / 1000);
  const toS = Math.ceil(w.toMs / 1000);
  if (fromS > toS) return;
  // Chatwoot ids are one sequence: a message evosync delivered before the window (less a margin for
  // the two clocks) has a lower id than any message written in it.
  const fromId = await deps.ledger.cwMessageIdDeliveredBefore(w.instance, fromS * 1000 - CLOCK_MARGIN_MS);
  const win: ScanWindow = { fromS, toS, fromId };
  const seen = new Set<number>();

  const visit = async function* (until: number): AsyncGenerator<ConversationReplies> {
    for (let page = 1; ; page++) {
      if (deps.shouldStop?.()) throw new ReconcileError('RECONCILE_STOPPED', 'stopped: evosync is shutting down');
      const r = await readWithRetry(() => api.listConversations(api.target.inboxId, page));
      if (!r.ok) throw new ReconcileError('CHATWOOT_FAILED', `conversations page ${page}: ${r.failure.kind}: ${r.failure.message}`);
      for (const conv of r.value) {
        // Newest activity first: from here on, every conversation was quiet since before `until`.
        if ((conv.last_activity_at ?? 0) < until) return;
        if (seen.has(conv.id)) continue;
        seen.add(conv.id);
        stats.conversations += 1;
        const found = await repliesOf(deps, conv, win, w, stats);
        if (found) yield found;
      }
      if (r.value.length < CONVERSATIONS_PER_PAGE) return;
    }
  };
  yield* visit(fromS);
  // A conversation active while later pages were read jumped to the top, pushing others down a
  // page: one of them (or itself) may have been passed over. Those are at the top now.
  yield* visit(Math.max(fromS, toS - MOVED_SLACK_S));
}

async function repliesOf(deps: AgentReplyScanDeps, conv: CwConversation, win: ScanWindow, w: AgentReplyWindow, stats: AgentReplyScanStats): Promise<ConversationReplies | null> {
  const items: AgentReply[] = [];
  const webhookFailed = new Set<number>();
  let target: { instance: string; chat: string } | null | undefined;
  /** false once the conversation turns out to belong elsewhere: nothing more to read. */
  const take = async (page: readonly CwMessage[]): Promise<boolean> => {
    for (const m of page) {
      const at = createdAtS(m);
      if (at === null || at < win.fromS || at > win.toS) continue;
      const facts = replyFacts(deps, conv, m, stats);
      if (!facts) continue;
      if (target === undefined) {
        const t = await resolveTarget(deps.config, deps.ledger, facts, null);
        target = t.kind === 'target' && t.instance === w.instance && (w.chat === null || t.chat === w.chat) ? t : null;
        if (!target) stats.elsewhere += 1;
      }
      if (!target) return false;
      items.push(...replyItems(facts, target.instance, target.chat, deps.nowMs));
      if (m.status === 'failed' && typeof m.content_attributes?.['external_error'] === 'string') webhookFailed.add(m.id);
    }
    return true;
  };
  const read = async (query: { before?: number; after?: number }): Promise<CwMessage[] | null> => {
    if (deps.shouldStop?.()) throw new ReconcileError('RECONCILE_STOPPED', 'stopped: evosync is shutting down');
    const r = await readWithRetry(() => deps.api.listMessages(conv.id, query));
    if (r.ok) return r.value;
    if (r.failure.kind === 'not_found') return null; // deleted since it was listed
    throw new ReconcileError('CHATWOOT_FAILED', `conversation ${conv.id} messages ${JSON.stringify(query)}: ${r.failure.kind}: ${r.failure.message}`);
  };
  const oldestOf = (page: readonly CwMessage[]) => Math.min(...page.map((m) => createdAtS(m) ?? Number.MAX_SAFE_INTEGER));
  const lowestId = (page: readonly CwMessage[]) => Math.min(...page.map((m) => m.id));

  // The latest 20 settle most conversations: quiet since before the window, or only just active.
  const latest = await read({});
  if (!latest || !(await take(latest))) return null;
  if (latest.length >= MESSAGES_PER_BACKWARD_PAGE && oldestOf(latest) >= win.fromS) {
    // Forwards from an id older than the window, up to 1000 a page (`after` + `before`, §3.4).
    // With none known (a young or reset ledger), from the conversation's first message: its whole
    // history at 1000 a page costs fewer requests than the window at 20 a page, backwards.
    const before = lowestId(latest);
    for (let after = win.fromId ?? 0; ; ) {
      const page = await read({ after, before });
      if (!page || !(await take(page))) return null;
      if (page.length < MESSAGES_PER_RANGE_PAGE) break;
      after = Math.max(...page.map((m) => m.id)) + 1;
    }
  }
  if (!target || items.length === 0) return null;
  items.sort((a, b) => a.cwMessageId - b.cwMessageId || a.part - b.part);
  return { conversationId: conv.id, chat: target.chat, items, webhookFailed };
}

/**
 * The message as the webhook would have described it, judged by the webhook's own rules: only an
 * agent's outgoing, non-private message (or template) with something to send, and not one evosync
 * wrote itself from WhatsApp (`WAID:` source id, `external_echo`).
 */
function replyFacts(deps: AgentReplyScanDeps, conv: CwConversation, m: CwMessage, stats: AgentReplyScanStats) {
  const body = {
    event: 'message_created',
    id: m.id,
    content: m.content ?? null,
    content_type: m.content_type ?? null,
    message_type: m.message_type ?? 'unknown',
    private: m.private ?? false,
    source_id: m.source_id ?? null,
    content_attributes: m.content_attributes ?? {},
    created_at: m.created_at ?? null,
    account: { id: deps.api.target.accountId },
    inbox: { id: conv.inbox_id },
    sender: m.sender ?? null,
    attachments: m.attachments ?? [],
    conversation: { id: conv.id, inbox_id: conv.inbox_id, contact_inbox: conv.contact_inbox ?? null, meta: conv.meta ?? null },
  };
  const c = classifyChatwootWebhook(body);
  if (c.kind !== 'reply') return null;
  const error = m.content_attributes?.['external_error'];
  if (typeof error === 'string' && error.startsWith(GIVEN_UP_PREFIX)) {
    stats.givenUp += 1;
    return null;
  }
  return c.facts;
}

function createdAtS(m: CwMessage): number | null {
  if (typeof m.created_at === 'number') return m.created_at > 1e12 ? Math.floor(m.created_at / 1000) : m.created_at;
  if (typeof m.created_at === 'string') {
    const t = Date.parse(m.created_at);
    return Number.isNaN(t) ? null : Math.floor(t / 1000);
  }
  return null;
}
