import type { Failure } from '../chatwoot/classify.js';
import type { ChatwootApi } from '../chatwoot/api.js';
import { type CheckResult, fail, ok, redactUrl } from './types.js';

/** A phone number no contact can have: the filter is read-only and finds nothing. */
const IMPOSSIBLE_PHONE = '+0000000000000';

const ADMIN_TOKEN_FIX = "use an administrator's access token (Chatwoot → Profile settings → Access token) as CHATWOOT_API_TOKEN";

export function describeTarget(api: ChatwootApi): string {
  return `${redactUrl(api.target.url)} account ${api.target.accountId} inbox ${api.target.inboxId}`;
}

/**
 * Chatwoot reachable and the token a user's: evosync looks contacts up, which agent-bot tokens may
 * not do (401 "Access to this endpoint is not authorized for bots").
 */
export async function checkChatwootToken(api: ChatwootApi): Promise<CheckResult> {
  const subject = describeTarget(api);
  const r = await api.filterContacts('phone_number', IMPOSSIBLE_PHONE);
  if (r.ok) return ok('chatwoot.token', 'Chatwoot reachable, token is a user token (contacts readable)', subject);
  const f = r.failure;
  if (f.kind === 'unauthorized') {
    if (/not authorized for bots/i.test(f.message)) return fail('chatwoot.token', 'CHATWOOT_API_TOKEN is an agent-bot token: bots cannot read contacts', ADMIN_TOKEN_FIX, subject);
    if (/not authorized to access this account/i.test(f.message)) {
      return fail('chatwoot.token', `the token's user is not a member of account ${api.target.accountId}`, 'check CHATWOOT_ACCOUNT_ID (the number in /app/accounts/<id>), or use a token of that account\'s administrator', subject);
    }
    if (/bot is not authorized/i.test(f.message)) return fail('chatwoot.token', 'CHATWOOT_API_TOKEN is an agent-bot token of another account', ADMIN_TOKEN_FIX, subject);
    return fail('chatwoot.token', `CHATWOOT_API_TOKEN rejected (${f.message})`, ADMIN_TOKEN_FIX, subject);
  }
  if (f.kind === 'not_found') return fail('chatwoot.token', `account ${api.target.accountId} not found (${f.message})`, 'check CHATWOOT_ACCOUNT_ID and that CHATWOOT_URL is the base URL of Chatwoot', subject);
  return fail('chatwoot.token', unreachableMessage(f), 'check CHATWOOT_URL and that Chatwoot is up and reachable from here', subject);
}

function unreachableMessage(f: Failure): string {
  return f.status === null ? `Chatwoot unreachable (${f.message})` : `Chatwoot answered the contacts filter with ${f.message}`;
}

/** The inbox exists in the account and is an API channel (the only kind evosync can post incoming messages to). */
export async function checkInbox(api: ChatwootApi): Promise<CheckResult> {
  const { accountId, inboxId } = api.target;
  const subject = describeTarget(api);
  const r = await api.http.request<{ channel_type?: unknown; name?: unknown }>({ method: 'GET', path: `/api/v1/accounts/${accountId}/inboxes/${inboxId}` });
  if (!r.ok) {
    if (r.failure.kind === 'not_found') return fail('chatwoot.inbox', `inbox ${inboxId} does not exist in account ${accountId}`, 'set CHATWOOT_INBOX_ID to the id of an API-channel inbox (Settings → Inboxes, the number in its URL)', subject);
    return fail('chatwoot.inbox', `cannot read inbox ${inboxId}: ${r.failure.message}`, `${ADMIN_TOKEN_FIX}, a member of the inbox`, subject);
  }
  const type = r.value.channel_type;
  const name = typeof r.value.name === 'string' ? ` "${r.value.name}"` : '';
  if (type === 'Channel::Api') return ok('chatwoot.inbox', `inbox ${inboxId}${name} is an API channel`, subject);
  return fail(
    'chatwoot.inbox',
    `inbox ${inboxId}${name} is a ${typeof type === 'string' ? type : 'non-API'} inbox, not an API channel: Chatwoot refuses incoming messages there`,
    'create an API inbox (Settings → Inboxes → Add inbox → API) and set CHATWOOT_INBOX_ID to its id',
    subject,
  );
}
