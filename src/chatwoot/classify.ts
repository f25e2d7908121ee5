import type { ErrorCode } from '../errors.js';

/**
 * Every Chatwoot call ends in one of these, decided here once so no caller interprets status codes
 * on its own. The distinction that matters most is `unreachable` (the request never left: nothing
 * can have been created) versus `ambiguous` (it may have been processed: look before retrying).
 */
export type FailureKind =
  | 'unreachable' // connection refused, DNS, connect timeout: not sent
  | 'ambiguous' // reset, timeout after sending: may have been committed
  | 'rate_limited' // 429 from Rack::Attack: wait for the next window
  | 'unauthorized' // 401: bad token or not allowed; a configuration fault, not the message's
  | 'server' // 5xx: retry; a write may have been committed behind a proxy error
  | 'not_found' // 404: the referenced contact or conversation is gone
  | 'flood' // 422 "Too many messages": 200 per conversation per minute
  | 'rejected'; // other 4xx: the request itself is wrong; retrying cannot help

export interface Failure {
  kind: FailureKind;
  status: number | null;
  message: string;
  /** Registry code to record it under, when not the Chatwoot one its kind implies. */
  code?: ErrorCode;
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNABORTED_BEFORE_SEND']);

export function classifyNetworkError(error: unknown): Failure {
  const e = error as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? e.name ?? 'ERROR';
  const message = `${code}: ${e.message ?? String(error)}`;
  return { kind: NOT_SENT_CODES.has(code) ? 'unreachable' : 'ambiguous', status: null, message };
}

export function classifyStatus(status: number, body: unknown): Failure | null {
  if (status >= 200 && status < 300) return null;
  const text = describeBody(body);
  const message = `HTTP ${status}${text ? `: ${text}` : ''}`;
  if (status === 429) return { kind: 'rate_limited', status, message };
  if (status === 401 || status === 403) return { kind: 'unauthorized', status, message };
  if (status === 404) return { kind: 'not_found', status, message };
  if (status === 408 || status >= 500) return { kind: 'server', status, message };
  if (status === 422 && /too many messages/i.test(text)) return { kind: 'flood', status, message };
  return { kind: 'rejected', status, message };
}

/** Whether a failed write may nevertheless have been carried out by Chatwoot. */
export function mayHaveBeenApplied(failure: Failure): boolean {
  return failure.kind === 'ambiguous' || failure.kind === 'server';
}

function describeBody(body: unknown): string {
  if (body == null) return '';
  if (typeof body === 'string') return body.trim().slice(0, 300);
  const b = body as { error?: unknown; message?: unknown };
  if (typeof b.error === 'string') return b.error;
  if (typeof b.message === 'string') return b.message;
  return JSON.stringify(body).slice(0, 300);
}
