import type { MessageSearch } from '../ledger/ledger.js';

/**
 * What an operator typed, as ledger look-ups: digits may be a Chatwoot message or conversation id,
 * or a phone number (its chat); a JID is a chat; anything else is a WhatsApp id.
 */
export function parseSearch(q: string): Omit<MessageSearch, 'limit'> | null {
  const term = q.trim();
  if (!term) return null;
  if (/^\d{1,15}$/.test(term)) {
    const n = Number(term);
    return { waId: term, cwMessageId: n, cwConversationId: n, ...(term.length >= 8 ? { chat: `${term}@s.whatsapp.net` } : {}) };
  }
  if (/^\+?[\d\s()-]{8,}$/.test(term)) return { chat: `${term.replace(/\D/g, '')}@s.whatsapp.net` };
  if (term.includes('@')) return { chat: term, waId: term };
  return { waId: term };
}
