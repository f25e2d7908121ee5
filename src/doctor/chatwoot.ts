import type { Failure } from '../chatwoot/classify.js';
import type { ChatwootApi } from '../chatwoot/api.js';
import { safeEqual } from '../ingest/token.js';
import { type InboxJson, inboxSigning, maskSecret, sameEndpoint } from '../setup/endpoints.js';
import { type CheckResult, fail, ok, redactUrl, warn } from './types.js';

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

/**
 * The inbox exists in the account and is an API channel (the only kind evosync can post incoming
 * messages to). Answers the inbox as read, for the webhook checks.
 */
export async function checkInbox(api: ChatwootApi): Promise<{ result: CheckResult; inbox: InboxJson | null }> {
  const { accountId, inboxId } = api.target;
  const subject = describeTarget(api);
  const r = await api.http.request<InboxJson>({ method: 'GET', path: `/api/v1/accounts/${accountId}/inboxes/${inboxId}` });
  if (!r.ok) {
    if (r.failure.kind === 'not_found') return { result: fail('chatwoot.inbox', `inbox ${inboxId} does not exist in account ${accountId}`, 'set CHATWOOT_INBOX_ID to the id of an API-channel inbox (Settings → Inboxes, the number in its URL), or unset it and run `evosync setup` to create one', subject), inbox: null };
    return { result: fail('chatwoot.inbox', `cannot read inbox ${inboxId}: ${r.failure.message}`, `${ADMIN_TOKEN_FIX}, a member of the inbox`, subject), inbox: null };
  }
  const type = r.value.channel_type;
  const name = typeof r.value.name === 'string' ? ` "${r.value.name}"` : '';
  if (type === 'Channel::Api') return { result: ok('chatwoot.inbox', `inbox ${inboxId}${name} is an API channel`, subject), inbox: r.value };
  return {
    result: fail(
      'chatwoot.inbox',
      `inbox ${inboxId}${name} is a ${typeof type === 'string' ? type : 'non-API'} inbox, not an API channel: Chatwoot refuses incoming messages there`,
      'create an API inbox (Settings → Inboxes → Add inbox → API, or `evosync setup` with CHATWOOT_INBOX_ID unset) and set CHATWOOT_INBOX_ID to its id',
      subject,
    ),
    inbox: null,
  };
}

export interface ChatwootWebhookSettings {
  publicUrl: string | null;
  /** EVOSYNC_CHATWOOT_WEBHOOK_TOKEN. */
  legacyToken: string | null;
  /** CHATWOOT_WEBHOOK_SECRET, split. */
  secrets: readonly string[];
}

const SETUP_FIX = 'run `evosync setup` (with EVOSYNC_PUBLIC_URL set), or set the inbox\'s Webhook URL (Settings → Inboxes → the inbox → Configuration) to https://<evosync>/webhooks/chatwoot';

/**
 * The inbox callback reaches evosync: its URL is evosync's `/webhooks/chatwoot` (at
 * EVOSYNC_PUBLIC_URL when set), and carries the legacy token where Chatwoot signs nothing.
 */
export function checkChatwootWebhook(api: ChatwootApi, inbox: InboxJson, s: ChatwootWebhookSettings): CheckResult {
  const subject = describeTarget(api);
  const raw = typeof inbox.webhook_url === 'string' && inbox.webhook_url !== '' ? inbox.webhook_url : null;
  if (!raw) return fail('chatwoot.webhook', 'the inbox has no webhook URL: agent replies never reach WhatsApp (unless an account webhook points at evosync)', SETUP_FIX, subject);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('chatwoot.webhook', 'the inbox webhook URL is not a URL', SETUP_FIX, subject);
  }
  const shown = redactUrl(raw);
  if (/\/chatwoot\/webhook\//.test(url.pathname)) {
    return fail('chatwoot.webhook', `the inbox webhook points at Evolution's built-in integration (${shown}): Evolution, not evosync, would send the agent replies`, SETUP_FIX, subject);
  }
  if (s.publicUrl) {
    const want = `${s.publicUrl}/webhooks/chatwoot`;
    if (!sameEndpoint(raw, want)) return fail('chatwoot.webhook', `the inbox webhook points at ${shown}, not at evosync's ${redactUrl(want)} (EVOSYNC_PUBLIC_URL)`, SETUP_FIX, subject);
  } else if (!/\/webhooks\/chatwoot\/?$/.test(url.pathname)) {
    return fail('chatwoot.webhook', `the inbox webhook points at ${shown}, not at evosync's /webhooks/chatwoot`, SETUP_FIX, subject);
  }
  const token = url.searchParams.get('token');
  const signing = inboxSigning(inbox);
  if (token !== null && s.legacyToken !== null && !safeEqual(token, s.legacyToken)) {
    return fail('chatwoot.webhook', "the webhook URL's token differs from EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: evosync answers 401 and Chatwoot marks the reply failed", 'run `evosync setup` to write the URL with the current token', subject);
  }
  if (signing.kind === 'unsigned') {
    if (s.legacyToken === null) {
      return fail('chatwoot.webhook', 'Chatwoot signs nothing (before 4.13) and EVOSYNC_CHATWOOT_WEBHOOK_TOKEN is not set: evosync refuses every agent reply', 'set EVOSYNC_CHATWOOT_WEBHOOK_TOKEN (16+ characters) and run `evosync setup` (the URL then carries ?token=)', subject);
    }
    if (token === null) return fail('chatwoot.webhook', 'Chatwoot signs nothing (before 4.13) and the webhook URL carries no ?token=: evosync refuses every agent reply', 'run `evosync setup` to add ?token=<EVOSYNC_CHATWOOT_WEBHOOK_TOKEN> to the URL', subject);
  }
  const note = s.publicUrl ? '' : ' (EVOSYNC_PUBLIC_URL not set: the host was not compared)';
  return ok('chatwoot.webhook', `inbox webhook → ${shown}${note}`, subject);
}

/** The inbox's signing secret (Chatwoot ≥ 4.13, admin-only) is one of CHATWOOT_WEBHOOK_SECRET's. */
export function checkWebhookSecret(api: ChatwootApi, inbox: InboxJson, s: ChatwootWebhookSettings): CheckResult {
  const subject = describeTarget(api);
  const signing = inboxSigning(inbox);
  const readSecret = `set CHATWOOT_WEBHOOK_SECRET to the inbox's secret (curl -s -H "api_access_token: $CHATWOOT_API_TOKEN" ${redactUrl(api.target.url)}/api/v1/accounts/${api.target.accountId}/inboxes/${api.target.inboxId} | jq -r .secret; \`evosync setup\` says whether it matches)`;
  if (signing.kind === 'unknown') return warn('chatwoot.webhook-secret', "the inbox's signing secret is admin-only: not compared with CHATWOOT_WEBHOOK_SECRET", ADMIN_TOKEN_FIX, subject);
  if (signing.kind === 'unsigned') return ok('chatwoot.webhook-secret', 'Chatwoot signs nothing (before 4.13): no secret to match; the URL token authenticates it', subject);
  if (s.secrets.includes(signing.secret)) return ok('chatwoot.webhook-secret', `CHATWOOT_WEBHOOK_SECRET matches the inbox's signing secret (${maskSecret(signing.secret)})`, subject);
  if (s.secrets.length > 0) {
    return fail('chatwoot.webhook-secret', `CHATWOOT_WEBHOOK_SECRET does not match the inbox's signing secret (${maskSecret(signing.secret)}): evosync answers 401 and Chatwoot marks every agent reply failed`, readSecret, subject);
  }
  if (s.legacyToken !== null && safeEqual(urlToken(inbox) ?? '', s.legacyToken)) {
    return warn('chatwoot.webhook-secret', 'the inbox signs its webhooks (Chatwoot ≥ 4.13), but CHATWOOT_WEBHOOK_SECRET is not set: only the URL token authenticates them', readSecret, subject);
  }
  return fail('chatwoot.webhook-secret', 'the inbox signs its webhooks (Chatwoot ≥ 4.13), but CHATWOOT_WEBHOOK_SECRET is not set: evosync refuses every agent reply', readSecret, subject);
}

function urlToken(inbox: InboxJson): string | null {
  try {
    return typeof inbox.webhook_url === 'string' ? new URL(inbox.webhook_url).searchParams.get('token') : null;
  } catch {
    return null;
  }
}
