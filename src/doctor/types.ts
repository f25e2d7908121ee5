/** One line of `evosync doctor`: what was checked, how it went, and how to fix it. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export type CheckId =
  | 'config'
  | 'ledger'
  | 'evolution.api'
  | 'evolution.instance'
  | 'evolution.chatwoot-integration'
  | 'evolution.events'
  | 'evolution.message-store'
  | 'chatwoot.token'
  | 'chatwoot.inbox'
  | 'chatwoot.webhook'
  | 'chatwoot.webhook-secret';

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** What the check is about when it runs more than once: an instance, or a Chatwoot target. */
  subject?: string;
  message: string;
  fix?: string;
}

export const ok = (id: CheckId, message: string, subject?: string): CheckResult => ({ id, status: 'ok', message, ...(subject ? { subject } : {}) });
export const warn = (id: CheckId, message: string, fix: string, subject?: string): CheckResult => ({ id, status: 'warn', message, fix, ...(subject ? { subject } : {}) });
export const fail = (id: CheckId, message: string, fix: string, subject?: string): CheckResult => ({ id, status: 'fail', message, fix, ...(subject ? { subject } : {}) });

/** A URL fit to print: no user info, no `/t/<token>` path token, no query string. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    const query = u.search ? '?…' : '';
    u.search = '';
    u.hash = '';
    return `${u.toString().replace(/\/t\/[^/]+/, '/t/<token>').replace(/\/$/, '')}${query}`;
  } catch {
    return '<not a URL>';
  }
}
