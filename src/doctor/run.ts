import { ChatwootApi } from '../chatwoot/api.js';
import type { ChatwootTarget, Config } from '../config/config.js';
import { targetFor } from '../config/load.js';
import { EvolutionClient } from '../evolution/client.js';
import { checkChatwootToken, checkChatwootWebhook, checkInbox, checkWebhookSecret, describeTarget } from './chatwoot.js';
import { checkConfig } from './config.js';
import { checkBuiltInChatwoot, checkEvents, checkEvolutionApi, checkInstance } from './evolution.js';
import { checkMessageStore, messageStoreReminder } from './message-store.js';
import { checkLedger } from './ledger.js';
import { type CheckResult, warn } from './types.js';

export interface DoctorOptions {
  /** Check only this Evolution instance (and its Chatwoot target). */
  instance?: string;
  readFile?: (path: string) => string;
  /** Clock of the message-store check (which looks only at messages old enough to be stored). */
  now?: () => number;
}

export interface DoctorReport {
  /** No check failed (warnings allowed). */
  ok: boolean;
  checks: CheckResult[];
}

/** Doctor's requests should answer quickly: a hung upstream is itself the finding. */
const timeoutOf = (config: Config) => Math.min(config.delivery.httpTimeoutMs, 10_000);

/**
 * Every check, in reading order: configuration, ledger, Evolution (API, then per instance), then
 * Chatwoot (per target). The three sides run concurrently; each check returns a result instead of
 * throwing, so one broken side never hides the others.
 */
export async function runDoctor(env: NodeJS.ProcessEnv, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const { results, config } = checkConfig(env, opts.readFile);
  if (!config) return report(results);
  const [ledger, evolution] = await Promise.all([checkLedger(config.database.url), evolutionChecks(config, opts.instance, opts.now ?? Date.now)]);
  const chatwoot = await chatwootChecks(config, evolution.instances);
  return report([...results, ledger, ...evolution.results, ...chatwoot]);
}

function report(checks: CheckResult[]): DoctorReport {
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

async function evolutionChecks(config: Config, only: string | undefined, now: () => number): Promise<{ results: CheckResult[]; instances: readonly string[] }> {
  const configured = only ? [only] : (config.instances ?? []);
  const { url, apiKey } = config.evolution;
  if (!url || !apiKey) {
    return {
      results: [warn('evolution.api', "EVOLUTION_URL and EVOLUTION_API_KEY are not set: Evolution's side (instances, webhook, built-in integration) is not checked and reconciliation is off", 'set EVOLUTION_URL and EVOLUTION_API_KEY (Evolution\'s AUTHENTICATION_API_KEY)')],
      instances: configured,
    };
  }
  const client = new EvolutionClient(url, apiKey, timeoutOf(config));
  try {
    const api = await checkEvolutionApi(client, url);
    const results = [api.result];
    if (!api.names) return { results: [...results, messageStoreReminder()], instances: configured };
    const instances = configured.length > 0 ? configured : api.names;
    if (instances.length === 0) results.push(warn('evolution.instance', 'Evolution has no instances yet', 'create an instance in Evolution and connect WhatsApp'));
    const perInstance = await Promise.all(
      instances.map(async (instance) => {
        const state = await checkInstance(client, instance);
        if (!state.exists) return [state.result];
        const [builtIn, events, store] = await Promise.all([
          checkBuiltInChatwoot(client, instance),
          checkEvents(client, instance, { webhookToken: config.webhookToken, amqp: config.amqp, publicUrl: config.publicUrl }),
          checkMessageStore(client, instance, config.database.url, now()),
        ]);
        return [state.result, builtIn, events, store];
      }),
    );
    return { results: [...results, ...perInstance.flat()], instances };
  } finally {
    await client.close().catch(() => {});
  }
}

async function chatwootChecks(config: Config, instances: readonly string[]): Promise<CheckResult[]> {
  const candidates: ChatwootTarget[] = instances.length > 0 ? instances.map((i) => targetFor(config, i)) : [config.chatwoot, ...Object.values(config.targets)];
  const targets = new Map<string, ChatwootTarget>();
  for (const t of candidates) if (t.url) targets.set(JSON.stringify([t.url, t.apiToken, t.accountId, t.inboxId]), t);
  const perTarget = await Promise.all(
    [...targets.values()].map(async (target) => {
      const api = new ChatwootApi(target, timeoutOf(config));
      try {
        const token = await checkChatwootToken(api);
        if (token.status === 'fail') return [token, warn('chatwoot.inbox', 'not checked (fix chatwoot.token first)', 'see chatwoot.token', describeTarget(api))];
        const inbox = await checkInbox(api);
        if (!inbox.inbox) return [token, inbox.result];
        const settings = { publicUrl: config.publicUrl, legacyToken: config.chatwootWebhook.token, secrets: config.chatwootWebhook.secrets };
        return [token, inbox.result, checkChatwootWebhook(api, inbox.inbox, settings), checkWebhookSecret(api, inbox.inbox, settings)];
      } finally {
        await api.close().catch(() => {});
      }
    }),
  );
  return perTarget.flat();
}
