import type { ChatwootTarget, Config } from '../config/config.js';
import { loadConfig, targetFor } from '../config/load.js';
import { EvolutionClient } from '../evolution/client.js';
import { redactUrl } from '../doctor/types.js';
import { setupChatwoot } from './chatwoot.js';
import { setupBuiltinChatwoot, setupEvents } from './evolution.js';
import { type SetupReport, type SetupStep, step } from './types.js';

export interface SetupOptions {
  /** Print the plan; change nothing. */
  dryRun?: boolean;
  /** Turn Evolution's built-in Chatwoot integration off for the synced instances. */
  disableBuiltinChatwoot?: boolean;
  /** Only this instance (and its Chatwoot target). */
  instance?: string;
  /** Name of the API inbox created when CHATWOOT_INBOX_ID is unset. */
  inboxName?: string;
  readFile?: (path: string) => string;
}

/**
 * Chatwoot rejects an inbox name that starts or ends with punctuation (inferred from its
 * `\b[^/\\<>@]*\b` name format), so the default is plain words.
 */
export const DEFAULT_INBOX_NAME = 'WhatsApp via evosync';

/** Setup's requests answer quickly or the upstream is the problem. */
const timeoutOf = (config: Config) => Math.min(config.delivery.httpTimeoutMs, 15_000);

/**
 * `evosync setup`: makes Chatwoot and Evolution send evosync what it needs, reading each setting
 * first and writing only what differs, so a second run changes nothing. Configuration problems
 * throw ConfigError (as `start` does); everything else becomes a step.
 */
export async function runSetup(env: NodeJS.ProcessEnv, opts: SetupOptions = {}): Promise<SetupReport> {
  const config = loadConfig(env, { require: 'setup', ...(opts.readFile ? { readFile: opts.readFile } : {}) });
  const publicUrl = config.publicUrl as string; // required by require: 'setup'
  const dryRun = opts.dryRun ?? false;
  const instances = opts.instance ? [opts.instance] : [...(config.instances ?? [])];

  const steps: SetupStep[] = [];
  const settings: string[] = [];
  for (const target of distinctTargets(config, instances)) {
    const r = await setupChatwoot({
      target,
      publicUrl,
      legacyToken: config.chatwootWebhook.token,
      secrets: config.chatwootWebhook.secrets,
      inboxName: opts.inboxName ?? DEFAULT_INBOX_NAME,
      dryRun,
      timeoutMs: timeoutOf(config),
    });
    steps.push(...r.steps);
    settings.push(...r.settings);
  }
  steps.push(...(await evolutionSteps(config, instances, { publicUrl, dryRun, disableBuiltin: opts.disableBuiltinChatwoot ?? false })));
  const ok = steps.every((s) => s.status !== 'failed' && s.status !== 'todo');
  return { ok, dryRun, steps, settings: [...new Set(settings)] };
}

function distinctTargets(config: Config, instances: readonly string[]): ChatwootTarget[] {
  const candidates = instances.length > 0 ? instances.map((i) => targetFor(config, i)) : [config.chatwoot];
  const byKey = new Map<string, ChatwootTarget>();
  for (const t of candidates) byKey.set(JSON.stringify([t.url, t.apiToken, t.accountId, t.inboxId]), t);
  return [...byKey.values()];
}

async function evolutionSteps(config: Config, instances: readonly string[], o: { publicUrl: string; dryRun: boolean; disableBuiltin: boolean }): Promise<SetupStep[]> {
  const url = config.evolution.url as string; // required by require: 'setup'
  const client = new EvolutionClient(url, config.evolution.apiKey as string, timeoutOf(config), 2);
  try {
    const names = await client.instanceNames();
    if (!names.ok) {
      const next = names.failure.kind === 'unauthorized' ? "use Evolution's global AUTHENTICATION_API_KEY as EVOLUTION_API_KEY" : 'check EVOLUTION_URL and that Evolution is up and reachable from here';
      return [step('evolution.api', 'failed', `Evolution at ${redactUrl(url)}: ${names.failure.message}`, { next })];
    }
    // Setup rewrites each instance's webhook, so it touches only instances named for syncing,
    // never every instance the key can see (some may feed other systems).
    if (instances.length === 0) {
      return [
        step('evolution.instance', 'todo', `no instance named for syncing (Evolution has: ${names.value.join(', ') || 'none'})`, {
          next: 'set EVOSYNC_INSTANCES (comma-separated) or pass --instance <name>, and run setup again',
        }),
      ];
    }
    const input = { publicUrl: o.publicUrl, webhookToken: config.webhookToken, amqp: config.amqp, dryRun: o.dryRun, disableBuiltin: o.disableBuiltin };
    const out: SetupStep[] = [];
    for (const instance of instances) {
      if (!names.value.includes(instance)) {
        out.push(step('evolution.instance', 'failed', `instance ${instance} does not exist in Evolution (it has: ${names.value.join(', ') || 'none'})`, { subject: instance, next: 'fix EVOSYNC_INSTANCES, or create the instance in Evolution and connect WhatsApp' }));
        continue;
      }
      out.push(await setupEvents(client, instance, input));
      out.push(await setupBuiltinChatwoot(client, instance, url, input));
    }
    return out;
  } finally {
    await client.close().catch(() => {});
  }
}
