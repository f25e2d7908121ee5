import type { Config } from '../config/config.js';
import { isGroup, isLid, isPhoneJid, normalizePhoneJid } from '../evolution/jid.js';
import type { Ledger } from '../ledger/ledger.js';
import type { MessageFacts } from './webhook-payload.js';

/**
 * Which Evolution instance and WhatsApp chat a Chatwoot conversation belongs to. evosync creates
 * contact inboxes with `source_id` = the chat JID (chat-links.ts), so the webhook itself names the
 * chat; the contact identifier, the chat_links table and the phone number are the fall-backs (a
 * conversation started by another integration, or by an agent in the dashboard).
 */
export type Target = { kind: 'target'; instance: string; chat: string } | { kind: 'not_synced'; reason: string } | { kind: 'unresolved'; reason: string };

export async function resolveTarget(config: Config, ledger: Ledger, facts: MessageFacts, queryInstance: string | null): Promise<Target> {
  const inboxId = facts.inboxId;
  if (inboxId === null) return { kind: 'unresolved', reason: 'the webhook names no inbox' };
  const candidates = instancesOfInbox(config, facts.accountId, inboxId);
  if (candidates !== null && candidates.length === 0) {
    return { kind: 'not_synced', reason: `inbox ${inboxId}${facts.accountId ? ` of account ${facts.accountId}` : ''} is not an inbox evosync syncs (CHATWOOT_INBOX_ID)` };
  }
  const accountId = facts.accountId ?? accountOfInbox(config, inboxId);
  const link = accountId === null ? null : await ledger.chatLinkByConversation(accountId, inboxId, facts.conversationId);
  const allowed = (i: string) => candidates === null || candidates.includes(i);

  let instance: string | null = null;
  if (queryInstance && allowed(queryInstance)) instance = queryInstance;
  else if (link && allowed(link.instance)) instance = link.instance;
  else if (candidates?.length === 1) instance = candidates[0] as string;
  if (instance === null) {
    return { kind: 'unresolved', reason: `conversation ${facts.conversationId}: cannot tell which Evolution instance it belongs to (no chat link; add ?instance=<name> to the webhook URL)` };
  }
  const chat = jidOf(facts.contactInboxSourceId) ?? jidOf(facts.contactIdentifier) ?? (link && link.instance === instance ? link.chat : null) ?? phoneJid(facts.contactPhone);
  if (!chat) return { kind: 'unresolved', reason: `conversation ${facts.conversationId}: no WhatsApp chat in its contact inbox, identifier, chat links or phone number` };
  return { kind: 'target', instance, chat };
}

/**
 * The instances whose Chatwoot target is this inbox: a list (possibly empty), or null for "any
 * instance" (the default target without EVOSYNC_INSTANCES).
 */
function instancesOfInbox(config: Config, accountId: number | null, inboxId: number): string[] | null {
  const match = (t: { accountId: number; inboxId: number }) => t.inboxId === inboxId && (accountId === null || t.accountId === accountId);
  const own = Object.entries(config.targets).filter(([, t]) => match(t)).map(([i]) => i);
  if (!match(config.chatwoot) || config.chatwoot.inboxId === 0) return own;
  if (config.instances === null) return own.length > 0 ? own : null;
  return [...new Set([...own, ...config.instances.filter((i) => !(i in config.targets))])];
}

function accountOfInbox(config: Config, inboxId: number): number | null {
  if (config.chatwoot.inboxId === inboxId) return config.chatwoot.accountId;
  return Object.values(config.targets).find((t) => t.inboxId === inboxId)?.accountId ?? null;
}

function jidOf(v: string | null): string | null {
  if (!v) return null;
  const s = v.trim();
  if (isPhoneJid(s)) return normalizePhoneJid(s);
  if (isGroup(s) || isLid(s)) return s;
  return null;
}

function phoneJid(phone: string | null): string | null {
  const digits = (phone ?? '').replace(/\D/g, '');
  return /^\d{6,15}$/.test(digits) ? `${digits}@s.whatsapp.net` : null;
}
