/**
 * Where Evolution and Chatwoot must send their events for evosync to receive them. `evosync setup`
 * writes these; `evosync doctor` checks them, so both agree on one definition.
 */

/**
 * The instance events evosync acts on, as Evolution's per-instance config keys: messages and
 * their echoes, receipts, deletes, edits (of received and of sent messages), and the connection
 * state that triggers a reconcile on reconnect.
 */
export const EVOLUTION_EVENTS = ['MESSAGES_UPSERT', 'SEND_MESSAGE', 'MESSAGES_UPDATE', 'MESSAGES_DELETE', 'MESSAGES_EDITED', 'SEND_MESSAGE_UPDATE', 'CONNECTION_UPDATE'] as const;

/** Evolution's config key of a wire event name: `messages.upsert` → `MESSAGES_UPSERT` (reference §1.2). */
export const eventKey = (wire: string): string => wire.replace(/[.-]/g, '_').toUpperCase();

export const evolutionWebhookUrl = (publicUrl: string): string => `${publicUrl}/webhooks/evolution`;

/**
 * The inbox callback URL. Chatwoot before 4.13 signs nothing, so the legacy token rides in the
 * query string; from 4.13 the signature authenticates and the URL carries no secret.
 */
export function chatwootWebhookUrl(publicUrl: string, legacyToken: string | null, signed: boolean): string {
  const base = `${publicUrl}/webhooks/chatwoot`;
  return legacyToken && !signed ? `${base}?token=${encodeURIComponent(legacyToken)}` : base;
}

/** Enough of a secret to tell two apart, never enough to use it. */
export function maskSecret(secret: string): string {
  return secret.length >= 16 ? `${secret.slice(0, 4)}…(${secret.length} characters)` : `…(${secret.length} characters)`;
}

/** Same scheme, host, port and path (trailing slash ignored); the query is compared by the caller. */
export function sameEndpoint(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.origin === y.origin && x.pathname.replace(/\/+$/, '') === y.pathname.replace(/\/+$/, '');
  } catch {
    return false;
  }
}

/**
 * The fields of an API inbox that setup and doctor read. `hmac_token` and `secret` are shown to
 * administrators only; `secret` exists from Chatwoot 4.13 (reference §3.5, §6.3).
 */
export interface InboxJson {
  id?: unknown;
  name?: unknown;
  channel_type?: unknown;
  webhook_url?: unknown;
  hmac_token?: unknown;
  secret?: unknown;
}

export type InboxSigning = { kind: 'signed'; secret: string } | { kind: 'unsigned' } | { kind: 'unknown' };

/**
 * Whether the inbox signs its callbacks. An administrator's view always has `hmac_token`; if it
 * has no `secret` as well, the installation predates 4.13. Without `hmac_token` the token is not
 * an administrator's and nothing can be told.
 */
export function inboxSigning(inbox: InboxJson): InboxSigning {
  if (typeof inbox.secret === 'string' && inbox.secret !== '') return { kind: 'signed', secret: inbox.secret };
  if ('hmac_token' in inbox) return { kind: 'unsigned' };
  return { kind: 'unknown' };
}
