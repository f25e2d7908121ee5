import type { Failure } from '../chatwoot/classify.js';
import { JsonHttp } from '../chatwoot/http.js';
import type { ChatwootTarget } from '../config/config.js';
import { redactUrl } from '../doctor/types.js';
import { chatwootWebhookUrl, type InboxJson, type InboxSigning, inboxSigning, maskSecret } from './endpoints.js';
import { type SetupStep, step } from './types.js';

export interface ChatwootSetupInput {
  target: ChatwootTarget;
  publicUrl: string;
  /** EVOSYNC_CHATWOOT_WEBHOOK_TOKEN (Chatwoot < 4.13). */
  legacyToken: string | null;
  /** CHATWOOT_WEBHOOK_SECRET, split. */
  secrets: readonly string[];
  /** Name of the inbox setup creates (or finds) when the target has no inbox id. */
  inboxName: string;
  dryRun: boolean;
  timeoutMs: number;
}

export interface ChatwootSetupResult {
  steps: SetupStep[];
  /** Settings evosync's environment needs, e.g. `CHATWOOT_INBOX_ID=3`. */
  settings: string[];
}

const ADMIN_FIX = "use an administrator's access token as CHATWOOT_API_TOKEN (creating inboxes and changing their webhook is admin-only)";

const describe = (f: Failure): string => f.message;

/**
 * The Chatwoot half of setup, for one target: the API inbox (found, or created when no id is
 * configured), its webhook URL pointing at evosync, and the signing secret read back for
 * CHATWOOT_WEBHOOK_SECRET. Each step reads first and writes only what differs, so a second run
 * sends no write at all.
 */
export async function setupChatwoot(input: ChatwootSetupInput): Promise<ChatwootSetupResult> {
  const { target } = input;
  const subject = `${redactUrl(target.url)} account ${target.accountId}`;
  const http = new JsonHttp(target.url, { timeoutMs: input.timeoutMs, headers: { api_access_token: target.apiToken }, connections: 2 });
  const account = `/api/v1/accounts/${target.accountId}`;
  const steps: SetupStep[] = [];
  const settings: string[] = [];
  try {
    const found = await ensureInbox(http, account, input, subject);
    steps.push(found.step);
    if (!found.inbox) {
      if (found.planned) {
        steps.push(step('chatwoot.webhook', 'planned', `would set the new inbox's webhook URL to ${redactUrl(chatwootWebhookUrl(input.publicUrl, input.legacyToken, false))}`, { subject }));
        steps.push(step('chatwoot.secret', 'planned', "would read the new inbox's signing secret (Chatwoot ≥ 4.13) for CHATWOOT_WEBHOOK_SECRET", { subject }));
      }
      return { steps, settings };
    }
    const inboxId = Number(found.inbox.id);
    const inboxSubject = `${subject} inbox ${inboxId}`;
    if (!target.inboxId) settings.push(`CHATWOOT_INBOX_ID=${inboxId}`);

    const signing = inboxSigning(found.inbox);
    if (signing.kind === 'unknown') {
      steps.push(step('chatwoot.webhook', 'failed', "the token cannot see the inbox's admin-only fields, so it cannot change the inbox", { subject: inboxSubject, next: ADMIN_FIX }));
      return { steps, settings };
    }
    const webhook = await ensureWebhook(http, account, inboxId, found.inbox, input, signing.kind === 'signed');
    steps.push({ ...webhook, subject: inboxSubject });
    steps.push({ ...secretStep(input, target, inboxId, signing), subject: inboxSubject });
    return { steps, settings };
  } finally {
    await http.close().catch(() => {});
  }
}

type Found = { step: SetupStep; inbox: InboxJson | null; planned?: boolean };

async function ensureInbox(http: JsonHttp, account: string, input: ChatwootSetupInput, subject: string): Promise<Found> {
  const { inboxId } = input.target;
  if (inboxId) {
    const r = await http.request<InboxJson>({ method: 'GET', path: `${account}/inboxes/${inboxId}` });
    if (!r.ok) {
      if (r.failure.kind === 'not_found') {
        return { inbox: null, step: step('chatwoot.inbox', 'failed', `inbox ${inboxId} does not exist in account ${input.target.accountId}`, { subject, next: 'fix CHATWOOT_INBOX_ID, or unset it and run setup again to create an API inbox' }) };
      }
      return { inbox: null, step: step('chatwoot.inbox', 'failed', `cannot read inbox ${inboxId}: ${describe(r.failure)}`, { subject, next: chatwootFix(r.failure) }) };
    }
    const type = r.value.channel_type;
    if (type !== 'Channel::Api') {
      return {
        inbox: null,
        step: step('chatwoot.inbox', 'failed', `inbox ${inboxId} is a ${typeof type === 'string' ? type : 'non-API'} inbox, not an API channel`, {
          subject,
          next: 'unset CHATWOOT_INBOX_ID and run setup again to create an API inbox, or point it at an API inbox',
        }),
      };
    }
    return { inbox: r.value, step: step('chatwoot.inbox', 'unchanged', `inbox ${inboxId} "${String(r.value.name)}" is an API channel`, { subject }) };
  }

  // No id configured: an API inbox of this name is the one an earlier run created, so a second
  // run reuses it instead of creating another.
  const list = await http.request<{ payload?: InboxJson[] }>({ method: 'GET', path: `${account}/inboxes` });
  if (!list.ok) return { inbox: null, step: step('chatwoot.inbox', 'failed', `cannot list the inboxes: ${describe(list.failure)}`, { subject, next: chatwootFix(list.failure) }) };
  const existing = (list.value.payload ?? []).find((i) => i.channel_type === 'Channel::Api' && i.name === input.inboxName);
  if (existing) {
    return { inbox: existing, step: step('chatwoot.inbox', 'unchanged', `API inbox ${String(existing.id)} "${input.inboxName}" exists`, { subject }) };
  }
  if (input.dryRun) return { inbox: null, planned: true, step: step('chatwoot.inbox', 'planned', `would create the API inbox "${input.inboxName}"`, { subject }) };
  const created = await http.request<InboxJson>({ method: 'POST', path: `${account}/inboxes`, json: { name: input.inboxName, channel: { type: 'api' } } });
  if (!created.ok) return { inbox: null, step: step('chatwoot.inbox', 'failed', `cannot create the API inbox: ${describe(created.failure)}`, { subject, next: chatwootFix(created.failure) }) };
  if (typeof created.value.id !== 'number') return { inbox: null, step: step('chatwoot.inbox', 'failed', 'Chatwoot answered the inbox create without an id', { subject }) };
  return { inbox: created.value, step: step('chatwoot.inbox', 'changed', `created the API inbox ${created.value.id} "${input.inboxName}"`, { subject }) };
}

async function ensureWebhook(http: JsonHttp, account: string, inboxId: number, inbox: InboxJson, input: ChatwootSetupInput, signed: boolean): Promise<SetupStep> {
  const want = chatwootWebhookUrl(input.publicUrl, input.legacyToken, signed);
  const current = typeof inbox.webhook_url === 'string' && inbox.webhook_url !== '' ? inbox.webhook_url : null;
  if (current === want) return step('chatwoot.webhook', 'unchanged', `webhook URL → ${redactUrl(want)}`);
  const was = current ? ` (was ${redactUrl(current)})` : ' (was none)';
  if (input.dryRun) return step('chatwoot.webhook', 'planned', `would set the webhook URL to ${redactUrl(want)}${was}`);
  const r = await http.request<InboxJson>({ method: 'PATCH', path: `${account}/inboxes/${inboxId}`, json: { channel: { webhook_url: want } } });
  if (!r.ok) return step('chatwoot.webhook', 'failed', `cannot set the webhook URL: ${describe(r.failure)}`, { next: chatwootFix(r.failure) });
  if (r.value.webhook_url !== want) return step('chatwoot.webhook', 'failed', 'Chatwoot accepted the webhook URL but answered another one', { next: 'set it by hand: Settings → Inboxes → the inbox → Configuration → Webhook URL' });
  return step('chatwoot.webhook', 'changed', `set the webhook URL to ${redactUrl(want)}${was}`);
}

function secretStep(input: ChatwootSetupInput, target: ChatwootTarget, inboxId: number, signing: InboxSigning): SetupStep {
  if (signing.kind === 'signed') {
    if (input.secrets.includes(signing.secret)) return step('chatwoot.secret', 'unchanged', `CHATWOOT_WEBHOOK_SECRET holds the inbox's signing secret (${maskSecret(signing.secret)})`);
    const state = input.secrets.length === 0 ? 'is not set' : 'holds another secret';
    return step('chatwoot.secret', 'todo', `the inbox signs its webhooks (Chatwoot ≥ 4.13) with ${maskSecret(signing.secret)}, but CHATWOOT_WEBHOOK_SECRET ${state}: evosync would refuse every agent reply`, {
      next: `set CHATWOOT_WEBHOOK_SECRET to the inbox's secret: curl -s -H "api_access_token: $CHATWOOT_API_TOKEN" ${target.url}/api/v1/accounts/${target.accountId}/inboxes/${inboxId} | jq -r .secret`,
    });
  }
  if (signing.kind === 'unsigned') {
    if (input.legacyToken) return step('chatwoot.secret', 'unchanged', 'Chatwoot signs nothing (before 4.13): the webhook URL carries EVOSYNC_CHATWOOT_WEBHOOK_TOKEN');
    return step('chatwoot.secret', 'todo', 'Chatwoot signs nothing (before 4.13) and EVOSYNC_CHATWOOT_WEBHOOK_TOKEN is not set: evosync would refuse every agent reply', {
      next: 'set EVOSYNC_CHATWOOT_WEBHOOK_TOKEN (16+ characters, e.g. openssl rand -hex 24) and run setup again: the webhook URL then carries it',
    });
  }
  return step('chatwoot.secret', 'failed', "the inbox's secret is admin-only", { next: ADMIN_FIX });
}

function chatwootFix(f: Failure): string {
  if (f.kind === 'unauthorized') return ADMIN_FIX;
  if (f.kind === 'not_found') return 'check CHATWOOT_ACCOUNT_ID and that CHATWOOT_URL is the base URL of Chatwoot';
  return 'check CHATWOOT_URL and that Chatwoot is up and reachable from here';
}
