import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import { safeEqual } from '../ingest/token.js';

/**
 * Who may post to `/webhooks/chatwoot` (reference §6.3). Chatwoot ≥ 4.13 signs the inbox callback
 * (and ≥ 4.12 account webhooks): `X-Chatwoot-Signature: sha256=<hex>` = HMAC-SHA256(secret,
 * "<X-Chatwoot-Timestamp>.<raw body>"), checked over the raw bytes as received (re-serialised JSON
 * would not match). Older versions sign nothing, so a secret token in the URL is all there is.
 */
export interface WebhookAuthOptions {
  /** Several during a rotation, or for several inboxes. */
  secrets: readonly string[];
  token: string | null;
  windowS: number;
}

export interface PresentedAuth {
  signature: string | null;
  timestamp: string | null;
  token: string | null;
}

export type AuthVerdict = { ok: true; via: 'signature' | 'token' } | { ok: false; code: ErrorCode; reason: string };

export function verifyChatwootWebhook(opts: WebhookAuthOptions, presented: PresentedAuth, rawBody: string, nowMs: number): AuthVerdict {
  if (presented.signature && opts.secrets.length > 0) return verifySignature(opts, presented, rawBody, nowMs);
  if (opts.token && presented.token) {
    return safeEqual(presented.token, opts.token) ? { ok: true, via: 'token' } : { ok: false, code: 'CHATWOOT_WEBHOOK_UNAUTHORIZED', reason: 'wrong token' };
  }
  if (opts.secrets.length > 0) return { ok: false, code: 'CHATWOOT_WEBHOOK_UNAUTHORIZED', reason: 'X-Chatwoot-Signature missing (CHATWOOT_WEBHOOK_SECRET is set)' };
  if (opts.token) return { ok: false, code: 'CHATWOOT_WEBHOOK_UNAUTHORIZED', reason: 'token missing: the webhook URL must end in ?token=<EVOSYNC_CHATWOOT_WEBHOOK_TOKEN>' };
  return { ok: false, code: 'CHATWOOT_WEBHOOK_UNAUTHORIZED', reason: 'neither CHATWOOT_WEBHOOK_SECRET nor EVOSYNC_CHATWOOT_WEBHOOK_TOKEN is set; Chatwoot webhooks are refused' };
}

function verifySignature(opts: WebhookAuthOptions, presented: PresentedAuth, rawBody: string, nowMs: number): AuthVerdict {
  const ts = presented.timestamp ?? '';
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, code: 'CHATWOOT_SIGNATURE_INVALID', reason: 'X-Chatwoot-Timestamp missing or not unix seconds' };
  if (Math.abs(nowMs / 1000 - Number(ts)) > opts.windowS) {
    return { ok: false, code: 'CHATWOOT_SIGNATURE_EXPIRED', reason: `X-Chatwoot-Timestamp ${ts} is more than ${opts.windowS} s from now` };
  }
  const m = /^sha256=([0-9a-f]{64})$/i.exec((presented.signature ?? '').trim());
  if (!m) return { ok: false, code: 'CHATWOOT_SIGNATURE_INVALID', reason: 'X-Chatwoot-Signature is not sha256=<64 hex digits>' };
  const given = Buffer.from((m[1] as string).toLowerCase(), 'hex');
  for (const secret of opts.secrets) {
    if (timingSafeEqual(given, signChatwoot(secret, ts, rawBody))) return { ok: true, via: 'signature' };
  }
  return { ok: false, code: 'CHATWOOT_SIGNATURE_INVALID', reason: 'X-Chatwoot-Signature does not match any configured secret' };
}

/** The HMAC Chatwoot sends, as raw bytes. */
export function signChatwoot(secret: string, timestamp: string, rawBody: string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest();
}
