import type { Failure } from '../chatwoot/classify.js';
import type { AmqpConfig } from '../config/config.js';
import type { EvolutionClient } from '../evolution/client.js';
import { presentedToken, safeEqual } from '../ingest/token.js';
import { EVOLUTION_EVENTS, evolutionWebhookUrl, sameEndpoint } from '../setup/endpoints.js';
import { type CheckResult, fail, ok, redactUrl, warn } from './types.js';

/** Events evosync cannot work without (uppercase config keys, as Evolution stores them). */
export const REQUIRED_EVENTS = ['MESSAGES_UPSERT', 'SEND_MESSAGE'] as const;

const WEBHOOK_FIX = (instance: string) =>
  `run \`evosync setup\` (with EVOSYNC_PUBLIC_URL), or POST /webhook/set/${instance} with {"webhook":{"enabled":true,"url":"https://<evosync>/webhooks/evolution","headers":{"authorization":"Bearer <EVOSYNC_WEBHOOK_TOKEN>"},"base64":true,"events":${JSON.stringify(EVOLUTION_EVENTS)}}} (README step 3)`;

/** Status failures already read "HTTP 401: …", network ones "ECONNREFUSED: …". */
const describe = (f: Failure): string => f.message;

/**
 * Evolution reachable and the key accepted (`GET /instance/fetchInstances`). Returns the names
 * the key can see, or null when Evolution could not be used.
 */
export async function checkEvolutionApi(client: EvolutionClient, url: string): Promise<{ result: CheckResult; names: string[] | null }> {
  const r = await client.instanceNames();
  if (r.ok) return { result: ok('evolution.api', `Evolution reachable at ${redactUrl(url)}, API key accepted (${r.value.length} instance${r.value.length === 1 ? '' : 's'} visible)`), names: r.value };
  const f = r.failure;
  if (f.kind === 'unauthorized') {
    return { result: fail('evolution.api', `EVOLUTION_API_KEY rejected by ${redactUrl(url)} (${describe(f)})`, "use Evolution's global AUTHENTICATION_API_KEY (or the instance's token)"), names: null };
  }
  if (f.kind === 'unreachable' || f.kind === 'ambiguous') {
    return { result: fail('evolution.api', `Evolution unreachable at ${redactUrl(url)} (${f.message})`, 'check EVOLUTION_URL and that Evolution is up and reachable from here'), names: null };
  }
  return { result: fail('evolution.api', `Evolution at ${redactUrl(url)} answered /instance/fetchInstances with ${describe(f)}`, 'check that EVOLUTION_URL is the base URL of Evolution API v2'), names: null };
}

/** The instance exists (`GET /instance/connectionState`) and WhatsApp is connected (`open`). */
export async function checkInstance(client: EvolutionClient, instance: string): Promise<{ result: CheckResult; exists: boolean }> {
  const r = await client.http.request<{ instance?: { state?: unknown } } | null>({ method: 'GET', path: `/instance/connectionState/${encodeURIComponent(instance)}` });
  if (!r.ok) {
    if (r.failure.kind === 'not_found') {
      return { result: fail('evolution.instance', `instance ${instance} does not exist in Evolution`, 'fix EVOSYNC_INSTANCES (or the config file), or create the instance in Evolution', instance), exists: false };
    }
    return { result: fail('evolution.instance', `cannot read the connection state: ${describe(r.failure)}`, 'check EVOLUTION_API_KEY and that the instance exists', instance), exists: false };
  }
  const state = r.value?.instance?.state;
  if (state === 'open') return { result: ok('evolution.instance', 'exists, WhatsApp connected (open)', instance), exists: true };
  return {
    result: warn('evolution.instance', `exists, but WhatsApp is ${typeof state === 'string' ? state : 'in an unknown state'} (not open): no messages flow`, `reconnect it in Evolution (GET /instance/connect/${instance} and scan the QR code); evosync reconciles the gap when it reopens`, instance),
    exists: true,
  };
}

/** Evolution's built-in Chatwoot integration must be off, or every message is posted twice. */
export async function checkBuiltInChatwoot(client: EvolutionClient, instance: string): Promise<CheckResult> {
  const r = await client.http.request<{ enabled?: unknown } | null>({ method: 'GET', path: `/chatwoot/find/${encodeURIComponent(instance)}` });
  if (!r.ok) {
    // CHATWOOT_ENABLED=false in Evolution's environment: the whole integration is off.
    if (r.failure.status === 400 && /chatwoot is disabled/i.test(r.failure.message)) return ok('evolution.chatwoot-integration', "built-in Chatwoot integration disabled (CHATWOOT_ENABLED=false)", instance);
    return warn('evolution.chatwoot-integration', `cannot read the built-in Chatwoot integration: ${describe(r.failure)}`, `check by hand: GET /chatwoot/find/${instance} must not say "enabled": true`, instance);
  }
  if (r.value?.enabled === true) {
    return fail(
      'evolution.chatwoot-integration',
      "Evolution's built-in Chatwoot integration is enabled: every message would be posted twice",
      `run \`evosync setup --disable-builtin-chatwoot\`, or POST /chatwoot/set/${instance} with "enabled": false (or CHATWOOT_ENABLED=false in Evolution's environment)`,
      instance,
    );
  }
  return ok('evolution.chatwoot-integration', 'built-in Chatwoot integration off', instance);
}

interface WebhookRow {
  enabled?: unknown;
  url?: unknown;
  headers?: unknown;
  events?: unknown;
  webhookByEvents?: unknown;
}

/** `fix` names the one change needed when the webhook is right but for its token. */
type Verdict = { ok: true; detail: string } | { ok: false; reason: string; fix?: 'token' | 'set-token' | 'none' };

function missingEvents(events: unknown): string[] {
  const list = Array.isArray(events) ? events.filter((e): e is string => typeof e === 'string').map((e) => e.toUpperCase()) : [];
  // An empty list means every event.
  if (list.length === 0) return [];
  return REQUIRED_EVENTS.filter((e) => !list.includes(e));
}

/** Does the instance webhook deliver the message events to evosync, with evosync's token? */
export function judgeWebhook(row: WebhookRow | null, webhookToken: string | null, publicUrl: string | null = null): Verdict {
  if (!row || typeof row.url !== 'string' || row.url === '') return { ok: false, reason: 'no instance webhook is set', fix: 'none' };
  if (row.enabled !== true) return { ok: false, reason: `the instance webhook (${redactUrl(row.url)}) is disabled`, fix: 'none' };
  let url: URL;
  try {
    url = new URL(row.url);
  } catch {
    return { ok: false, reason: 'the instance webhook URL is not a URL' };
  }
  const m = /\/webhooks\/evolution(?:\/t\/([^/]+))?\/?$/.exec(url.pathname);
  if (!m) return { ok: false, reason: `the instance webhook points at ${redactUrl(row.url)}, not at evosync's /webhooks/evolution` };
  if (publicUrl) {
    // The /t/<token> form is still evosync's endpoint.
    const bare = `${url.origin}${url.pathname.replace(/\/t\/[^/]+\/?$/, '')}`;
    const want = evolutionWebhookUrl(publicUrl);
    if (!sameEndpoint(bare, want)) return { ok: false, reason: `the instance webhook points at ${redactUrl(row.url)}, not at evosync's ${redactUrl(want)} (EVOSYNC_PUBLIC_URL)` };
  }
  const headers: Record<string, unknown> = {};
  if (row.headers && typeof row.headers === 'object') for (const [k, v] of Object.entries(row.headers)) headers[k.toLowerCase()] = v;
  if ('jwt_key' in headers) return { ok: false, reason: 'the webhook uses jwt_key (Evolution then sends a JWT), which evosync does not accept', fix: 'token' };
  const query = Object.fromEntries(url.searchParams);
  const token = presentedToken(headers, query, m[1] ? decodeURIComponent(m[1]) : undefined);
  if (token === null) return { ok: false, reason: 'the instance webhook sends no token (no Authorization/X-Evosync-Token header, no /t/<token> path): evosync answers 401', fix: 'token' };
  if (url.search && row.webhookByEvents === true && !m[1] && !headers['authorization'] && !headers['x-evosync-token']) {
    return { ok: false, reason: 'byEvents mode appends /<event> after the ?token= query, so the token is mangled', fix: 'token' };
  }
  if (webhookToken === null) return { ok: false, reason: 'EVOSYNC_WEBHOOK_TOKEN is not set, so evosync refuses every webhook', fix: 'set-token' };
  if (!safeEqual(token, webhookToken)) {
    return { ok: false, reason: 'the webhook token differs from EVOSYNC_WEBHOOK_TOKEN: evosync answers 401 and Evolution does not retry a 401', fix: 'token' };
  }
  const missing = missingEvents(row.events);
  if (missing.length > 0) return { ok: false, reason: `the instance webhook does not send ${missing.join(', ')}` };
  return { ok: true, detail: `webhook → ${redactUrl(row.url)}` };
}

/** Does Evolution publish the message events of this instance to RabbitMQ (per-instance mode)? */
export function judgeRabbitmq(row: { enabled?: unknown; events?: unknown } | null | string): Verdict {
  if (row === null || typeof row !== 'object') return { ok: false, reason: "RabbitMQ is off in Evolution (RABBITMQ_ENABLED is not true: /rabbitmq/find answers nothing)" };
  if (row.enabled !== true) return { ok: false, reason: 'RabbitMQ is not enabled for the instance' };
  const missing = missingEvents(row.events);
  if (missing.length > 0) return { ok: false, reason: `RabbitMQ does not publish ${missing.join(', ')} for the instance` };
  return { ok: true, detail: 'RabbitMQ (per-instance exchange)' };
}

/**
 * Events reach evosync: through the instance webhook (`/webhook/find`), or through RabbitMQ
 * (`/rabbitmq/find`) when evosync consumes it. Evolution's global webhook and global RabbitMQ mode
 * live in its environment and cannot be read through the API.
 */
export async function checkEvents(client: EvolutionClient, instance: string, opts: { webhookToken: string | null; amqp: AmqpConfig | null; publicUrl?: string | null }): Promise<CheckResult> {
  const w = await client.http.request<WebhookRow | null>({ method: 'GET', path: `/webhook/find/${encodeURIComponent(instance)}` });
  if (!w.ok) return fail('evolution.events', `cannot read the instance webhook: ${describe(w.failure)}`, WEBHOOK_FIX(instance), instance);
  const webhook = judgeWebhook(w.value && typeof w.value === 'object' ? w.value : null, opts.webhookToken, opts.publicUrl ?? null);
  if (webhook.ok && !opts.amqp) return ok('evolution.events', webhook.detail, instance);

  let rabbit: Verdict | null = null;
  if (opts.amqp?.mode === 'instance') {
    const r = await client.http.request<{ enabled?: unknown; events?: unknown } | null>({ method: 'GET', path: `/rabbitmq/find/${encodeURIComponent(instance)}` });
    rabbit = r.ok ? judgeRabbitmq(r.value) : { ok: false, reason: `cannot read the RabbitMQ setting (${describe(r.failure)})` };
  }
  if (webhook.ok) return ok('evolution.events', rabbit?.ok ? `${webhook.detail} and ${rabbit.detail}` : webhook.detail, instance);
  if (rabbit?.ok) return ok('evolution.events', `${rabbit.detail} (${webhook.reason})`, instance);
  if (opts.amqp?.mode === 'global') {
    return warn(
      'evolution.events',
      `${webhook.reason}; RabbitMQ global mode cannot be read through Evolution's API`,
      'make sure Evolution has RABBITMQ_ENABLED=true, RABBITMQ_GLOBAL_ENABLED=true, RABBITMQ_EVENTS_MESSAGES_UPSERT=true and RABBITMQ_EVENTS_SEND_MESSAGE=true',
      instance,
    );
  }
  let fix =
    webhook.fix === 'token' || webhook.fix === 'set-token'
      ? `${webhook.fix === 'set-token' ? 'set EVOSYNC_WEBHOOK_TOKEN (16+ characters), then ' : ''}send evosync's token: POST /webhook/set/${instance} with the same webhook plus "headers":{"authorization":"Bearer <EVOSYNC_WEBHOOK_TOKEN>"} (no jwt_key)`
      : WEBHOOK_FIX(instance);
  if (rabbit) fix += `; or POST /rabbitmq/set/${instance} with {"rabbitmq":{"enabled":true,"events":["MESSAGES_UPSERT","SEND_MESSAGE","CONNECTION_UPDATE"]}}`;
  else if (webhook.fix === 'none') fix += "; if you use Evolution's global webhook (WEBHOOK_GLOBAL_URL, not readable through the API), ignore this when it points at https://<evosync>/webhooks/evolution/t/<EVOSYNC_WEBHOOK_TOKEN>";
  return fail('evolution.events', `events do not reach evosync: ${webhook.reason}${rabbit ? `; ${rabbit.reason}` : ''}`, fix, instance);
}
