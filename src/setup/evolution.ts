import type { Failure } from '../chatwoot/classify.js';
import type { AmqpConfig } from '../config/config.js';
import { redactUrl } from '../doctor/types.js';
import type { EvolutionClient } from '../evolution/client.js';
import { safeEqual } from '../ingest/token.js';
import { EVOLUTION_EVENTS, eventKey, evolutionWebhookUrl } from './endpoints.js';
import { type SetupStep, step } from './types.js';

export interface EvolutionSetupInput {
  publicUrl: string;
  webhookToken: string | null;
  amqp: AmqpConfig | null;
  dryRun: boolean;
  disableBuiltin: boolean;
}

type Json = Record<string, unknown>;

const describe = (f: Failure): string => f.message;
const enc = encodeURIComponent;

/** Lower-cased header names, so `Authorization` and `authorization` are one header. */
function headersOf(row: Json | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const h = row?.['headers'];
  if (h && typeof h === 'object') for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

/** An empty list means every event (EventController.set() stores all of them for `[]`). */
function coversEvents(events: unknown, wanted: readonly string[]): boolean {
  if (!Array.isArray(events)) return false;
  const have = new Set(events.filter((e): e is string => typeof e === 'string').map((e) => e.toUpperCase()));
  return have.size === 0 || wanted.every((e) => have.has(e));
}

/**
 * Events reach evosync: the instance webhook (`POST /webhook/set`, reference §1.4) with evosync's
 * token and base64 media, or, when evosync consumes RabbitMQ, the instance's RabbitMQ events
 * (`POST /rabbitmq/set`, §1.3). Read first; written only when it differs.
 */
export async function setupEvents(client: EvolutionClient, instance: string, input: EvolutionSetupInput): Promise<SetupStep> {
  if (input.amqp) return setupRabbitmq(client, instance, input, input.amqp);
  return setupWebhook(client, instance, input);
}

async function setupWebhook(client: EvolutionClient, instance: string, input: EvolutionSetupInput): Promise<SetupStep> {
  const subject = instance;
  const token = input.webhookToken;
  // loadConfig requires the token without RabbitMQ; this guards a caller that bypasses it.
  if (!token) return step('evolution.events', 'todo', 'EVOSYNC_WEBHOOK_TOKEN is not set', { subject, next: 'set EVOSYNC_WEBHOOK_TOKEN (16+ characters) and run setup again' });
  const url = evolutionWebhookUrl(input.publicUrl);
  const found = await client.http.request<Json | null>({ method: 'GET', path: `/webhook/find/${enc(instance)}` });
  if (!found.ok) return step('evolution.events', 'failed', `cannot read the instance webhook: ${describe(found.failure)}`, { subject, next: 'check EVOLUTION_API_KEY and the instance name' });
  const row = found.value && typeof found.value === 'object' ? found.value : null;
  const headers = headersOf(row);
  const auth = headers['authorization'];
  const right =
    row !== null &&
    row['enabled'] === true &&
    row['url'] === url &&
    typeof auth === 'string' &&
    safeEqual(auth, `Bearer ${token}`) &&
    !('jwt_key' in headers) &&
    row['webhookByEvents'] === false &&
    row['webhookBase64'] === true &&
    coversEvents(row['events'], EVOLUTION_EVENTS);
  const what = `webhook → ${redactUrl(url)} (${EVOLUTION_EVENTS.length} events, base64 media, evosync's token in Authorization)`;
  if (right) return step('evolution.events', 'unchanged', what, { subject });
  const previous = typeof row?.['url'] === 'string' && row['url'] !== '' && row['url'] !== url ? `; replaces the webhook to ${redactUrl(row['url'])}` : '';
  if (input.dryRun) return step('evolution.events', 'planned', `would set the ${what}${previous}`, { subject });

  // Headers the operator added (a proxy's, say) are kept; evosync's own token header replaces any
  // earlier credential, and jwt_key would make Evolution send a JWT instead of the token.
  const keep: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string' && !['authorization', 'x-evosync-token', 'jwt_key'].includes(k)) keep[k] = v;
  const body = { webhook: { enabled: true, url, headers: { ...keep, authorization: `Bearer ${token}` }, byEvents: false, base64: true, events: [...EVOLUTION_EVENTS] } };
  const set = await client.http.request<Json | null>({ method: 'POST', path: `/webhook/set/${enc(instance)}`, json: body });
  if (!set.ok) return step('evolution.events', 'failed', `cannot set the instance webhook: ${describe(set.failure)}`, { subject, next: 'check EVOLUTION_API_KEY; README "Connecting a real Evolution API" shows the request to send by hand' });
  const back = set.value && typeof set.value === 'object' ? set.value : null;
  if (back?.['url'] !== url || back['enabled'] !== true) return step('evolution.events', 'failed', 'Evolution accepted the webhook but answered another setting', { subject, next: `check GET /webhook/find/${instance}` });
  return step('evolution.events', 'changed', `set the ${what}${previous}`, { subject });
}

async function setupRabbitmq(client: EvolutionClient, instance: string, input: EvolutionSetupInput, amqp: AmqpConfig): Promise<SetupStep> {
  const subject = instance;
  if (amqp.mode === 'global') {
    return step('evolution.events', 'skipped', "RabbitMQ global mode lives in Evolution's environment and cannot be set through its API", {
      subject,
      next: `make sure Evolution has RABBITMQ_ENABLED=true, RABBITMQ_GLOBAL_ENABLED=true, RABBITMQ_EXCHANGE_NAME=${amqp.exchanges[0] ?? 'evolution_exchange'} and RABBITMQ_EVENTS_<EVENT>=true for ${EVOLUTION_EVENTS.join(', ')}`,
    });
  }
  const events = [...new Set([...EVOLUTION_EVENTS, ...amqp.events.map(eventKey)])];
  const find = () => client.http.request<Json | null>({ method: 'GET', path: `/rabbitmq/find/${enc(instance)}` });
  const found = await find();
  if (!found.ok) return step('evolution.events', 'failed', `cannot read the RabbitMQ setting: ${describe(found.failure)}`, { subject, next: 'check EVOLUTION_API_KEY and the instance name' });
  const row = found.value && typeof found.value === 'object' ? found.value : null;
  const what = `RabbitMQ events on (exchange "${instance}", ${events.length} events)`;
  if (row?.['enabled'] === true && coversEvents(row['events'], events)) return step('evolution.events', 'unchanged', what, { subject });
  if (input.dryRun) return step('evolution.events', 'planned', `would turn ${what}`, { subject });
  const set = await client.http.request<unknown>({ method: 'POST', path: `/rabbitmq/set/${enc(instance)}`, json: { rabbitmq: { enabled: true, events } } });
  if (!set.ok) return step('evolution.events', 'failed', `cannot set RabbitMQ events: ${describe(set.failure)}`, { subject, next: 'check EVOLUTION_API_KEY' });
  // With RABBITMQ_ENABLED off, Evolution answers 201 with no body and stores nothing: read back.
  const back = await find();
  const stored = back.ok && back.value && typeof back.value === 'object' ? back.value : null;
  if (stored?.['enabled'] !== true) {
    return step('evolution.events', 'failed', 'Evolution did not store the RabbitMQ setting: RabbitMQ is off in its environment', {
      subject,
      next: "set RABBITMQ_ENABLED=true and RABBITMQ_URI in Evolution's environment, restart it and run setup again",
    });
  }
  return step('evolution.events', 'changed', `turned ${what}`, { subject });
}

/** Fields of `/chatwoot/set` (reference §5), copied from the current setting so turning it off keeps the rest. */
const REQUIRED_STRINGS = ['accountId', 'token', 'url'] as const;
const REQUIRED_BOOLS = ['signMsg', 'reopenConversation', 'conversationPending'] as const;
const OPTIONAL = ['nameInbox', 'signDelimiter', 'number', 'importContacts', 'importMessages', 'daysLimitImportMessages', 'mergeBrazilContacts', 'organization', 'logo', 'ignoreJids'] as const;

function disableBody(row: Json): Json {
  const body: Json = { enabled: false };
  for (const k of REQUIRED_STRINGS) body[k] = row[k] === null || row[k] === undefined ? '' : String(row[k]);
  for (const k of REQUIRED_BOOLS) body[k] = row[k] === true;
  // autoCreate is left out on purpose: it would create an inbox in Chatwoot.
  for (const k of OPTIONAL) if (row[k] !== null && row[k] !== undefined && row[k] !== '') body[k] = row[k];
  return body;
}

/**
 * Evolution's built-in Chatwoot integration posts every message a second time. Turning it off
 * changes the operator's Evolution, so it is done only with `--disable-builtin-chatwoot`;
 * otherwise the step is left to do, with the request to send.
 */
export async function setupBuiltinChatwoot(client: EvolutionClient, instance: string, evolutionUrl: string, input: EvolutionSetupInput): Promise<SetupStep> {
  const subject = instance;
  const found = await client.http.request<Json | null>({ method: 'GET', path: `/chatwoot/find/${enc(instance)}` });
  if (!found.ok) {
    if (found.failure.status === 400 && /chatwoot is disabled/i.test(found.failure.message)) return step('evolution.chatwoot-integration', 'unchanged', "built-in Chatwoot integration off in Evolution's environment (CHATWOOT_ENABLED=false)", { subject });
    return step('evolution.chatwoot-integration', 'failed', `cannot read the built-in Chatwoot integration: ${describe(found.failure)}`, { subject, next: `check by hand: GET /chatwoot/find/${instance} must not say "enabled": true` });
  }
  const row = found.value && typeof found.value === 'object' ? found.value : {};
  if (row['enabled'] !== true) return step('evolution.chatwoot-integration', 'unchanged', 'built-in Chatwoot integration off', { subject });
  if (!input.disableBuiltin) {
    const shown = { ...disableBody(row), token: '<its Chatwoot token>' };
    return step('evolution.chatwoot-integration', 'todo', "Evolution's built-in Chatwoot integration is on: every message would be posted twice", {
      subject,
      next: `run setup again with --disable-builtin-chatwoot, or: curl -X POST ${redactUrl(evolutionUrl)}/chatwoot/set/${enc(instance)} -H "apikey: $EVOLUTION_API_KEY" -H 'Content-Type: application/json' -d '${JSON.stringify(shown)}' (or CHATWOOT_ENABLED=false in Evolution's environment)`,
    });
  }
  if (input.dryRun) return step('evolution.chatwoot-integration', 'planned', 'would turn the built-in Chatwoot integration off (enabled: false; its other settings kept)', { subject });
  const set = await client.http.request<unknown>({ method: 'POST', path: `/chatwoot/set/${enc(instance)}`, json: disableBody(row) });
  if (!set.ok) return step('evolution.chatwoot-integration', 'failed', `cannot turn the built-in integration off: ${describe(set.failure)}`, { subject, next: "set CHATWOOT_ENABLED=false in Evolution's environment" });
  const back = await client.http.request<Json | null>({ method: 'GET', path: `/chatwoot/find/${enc(instance)}` });
  if (!back.ok || back.value?.['enabled'] === true) return step('evolution.chatwoot-integration', 'failed', 'Evolution still reports the built-in integration enabled', { subject, next: "set CHATWOOT_ENABLED=false in Evolution's environment" });
  return step('evolution.chatwoot-integration', 'changed', 'turned the built-in Chatwoot integration off (enabled: false; its other settings kept)', { subject });
}
