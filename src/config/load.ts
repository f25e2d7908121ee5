import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { WIRE_EVENTS } from '../evolution/events.js';
import { jsonErrorReason } from '../lib/json-guard.js';
import type { AmqpConfig, ChatwootTarget, Config } from './config.js';
import { ConfigFileSchema, DEFAULT_AMQP_EVENTS, type Env, EnvSchema, SETTINGS } from './schema.js';

const KNOWN = new Set(SETTINGS.map((s) => s.env));

/** Variables of ours that are not settings (test switches), so they are not reported as typos. */
/** Chatwoot's model-level flood guard (200 messages per conversation per minute) is not configurable there either. */
const CONVERSATION_MESSAGES_PER_MINUTE = 200;

const NON_SETTINGS = new Set(['EVOSYNC_REQUIRE_SERVICES', 'EVOSYNC_TEST_PG_URL', 'EVOSYNC_TEST_AMQP_URL', 'EVOSYNC_TEST_REDIS_URL']);

export interface LoadOptions {
  /**
   * Which settings must be present: `start` needs both upstreams, `migrate` only the database;
   * `setup` needs both upstreams and EVOSYNC_PUBLIC_URL, but not CHATWOOT_INBOX_ID (it creates one).
   */
  require?: 'service' | 'database' | 'setup';
  readFile?: (path: string) => string;
}

/**
 * Validates the environment and returns a frozen config, or throws one ConfigError that lists
 * every problem at once with the variable's name, so an operator fixes them in one pass.
 */
export function loadConfig(env: NodeJS.ProcessEnv, opts: LoadOptions = {}): Config {
  const problems: string[] = [];
  for (const key of Object.keys(env)) {
    if (key.startsWith('EVOSYNC_') && !KNOWN.has(key) && !NON_SETTINGS.has(key) && !key.startsWith('EVOSYNC_TEST_')) {
      problems.push(`${key}: unknown setting (typo?)`);
    }
  }
  const input: Record<string, string> = {};
  for (const s of SETTINGS) {
    const v = env[s.env];
    if (v !== undefined && v !== '') input[s.env] = v;
  }
  const parsed = EnvSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0] ?? '?')}: ${issue.message}`);
    // Still report the missing required settings, so one run lists every problem.
    if ((opts.require ?? 'service') === 'service' && input['EVOSYNC_CONFIG_FILE'] === undefined) {
      for (const name of ['CHATWOOT_URL', 'CHATWOOT_API_TOKEN', 'CHATWOOT_ACCOUNT_ID', 'CHATWOOT_INBOX_ID', 'EVOSYNC_WEBHOOK_TOKEN']) {
        if (input[name] === undefined && !problems.some((p) => p.startsWith(`${name}:`))) problems.push(`${name}: required`);
      }
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const require = opts.require ?? 'service';

  const targets: Record<string, ChatwootTarget> = {};
  let fileInstances: string[] = [];
  if (e.EVOSYNC_CONFIG_FILE) {
    try {
      const raw = (opts.readFile ?? ((p) => readFileSync(p, 'utf8')))(e.EVOSYNC_CONFIG_FILE);
      const file = ConfigFileSchema.safeParse(JSON.parse(raw));
      if (!file.success) {
        for (const issue of file.error.issues) problems.push(`EVOSYNC_CONFIG_FILE ${issue.path.join('.')}: ${issue.message}`);
      } else {
        fileInstances = file.data.instances.map((i) => i.instance);
        for (const i of file.data.instances) {
          const t = {
            url: i.chatwoot?.url ?? e.CHATWOOT_URL,
            apiToken: i.chatwoot?.apiToken ?? e.CHATWOOT_API_TOKEN,
            accountId: i.chatwoot?.accountId ?? e.CHATWOOT_ACCOUNT_ID,
            inboxId: i.chatwoot?.inboxId ?? e.CHATWOOT_INBOX_ID,
          };
          if (!t.url || !t.apiToken || !t.accountId || !t.inboxId) {
            problems.push(`EVOSYNC_CONFIG_FILE instances[${i.instance}]: chatwoot url, apiToken, accountId and inboxId must come from the file or CHATWOOT_* variables`);
          } else {
            targets[i.instance] = { url: t.url, apiToken: t.apiToken, accountId: t.accountId, inboxId: t.inboxId };
          }
        }
      }
    } catch (error) {
      // V8's JSON errors quote the text around the fault, and this file holds API tokens.
      const why = error instanceof SyntaxError ? `not valid JSON: ${jsonErrorReason(error)}` : (error as Error).message;
      problems.push(`EVOSYNC_CONFIG_FILE: cannot read ${e.EVOSYNC_CONFIG_FILE}: ${why}`);
    }
  }

  if (require === 'service' || require === 'setup') {
    const hasFileTargets = Object.keys(targets).length > 0;
    for (const name of ['CHATWOOT_URL', 'CHATWOOT_API_TOKEN', 'CHATWOOT_ACCOUNT_ID', 'CHATWOOT_INBOX_ID'] as const) {
      if (name === 'CHATWOOT_INBOX_ID' && require === 'setup') continue;
      if (e[name] === undefined && !hasFileTargets) problems.push(`${name}: required`);
    }
    // Some ingest must be configured; with RabbitMQ alone, webhooks are simply refused (401).
    if (!e.EVOSYNC_WEBHOOK_TOKEN && !e.EVOSYNC_AMQP_URL) problems.push('EVOSYNC_WEBHOOK_TOKEN: required unless EVOSYNC_AMQP_URL is set (Evolution webhooks are refused without it)');
  }
  if (require === 'setup') {
    if (!e.EVOSYNC_PUBLIC_URL) problems.push('EVOSYNC_PUBLIC_URL: required by setup (the base URL Evolution and Chatwoot reach evosync at, e.g. https://evosync.example.com)');
    if (!e.EVOLUTION_URL && !e.EVOLUTION_API_KEY) problems.push('EVOLUTION_URL: required by setup (with EVOLUTION_API_KEY), to configure the instances');
  }
  if ((e.EVOLUTION_URL === undefined) !== (e.EVOLUTION_API_KEY === undefined)) {
    problems.push(`${e.EVOLUTION_URL === undefined ? 'EVOLUTION_URL' : 'EVOLUTION_API_KEY'}: required with ${e.EVOLUTION_URL === undefined ? 'EVOLUTION_API_KEY' : 'EVOLUTION_URL'} (reconciliation needs both)`);
  }
  // Half a login would leave the dashboard either open or unusable: refuse to start instead.
  if ((e.EVOSYNC_DASHBOARD_USER === undefined) !== (e.EVOSYNC_DASHBOARD_PASSWORD === undefined)) {
    const [missing, present] = e.EVOSYNC_DASHBOARD_USER === undefined ? ['EVOSYNC_DASHBOARD_USER', 'EVOSYNC_DASHBOARD_PASSWORD'] : ['EVOSYNC_DASHBOARD_PASSWORD', 'EVOSYNC_DASHBOARD_USER'];
    problems.push(`${missing}: required with ${present} (the dashboard needs both; unset both to turn it off)`);
  }
  if (e.EVOSYNC_RECONCILE_WINDOW_MS > e.EVOSYNC_RECONCILE_MAX_WINDOW_MS) {
    problems.push('EVOSYNC_RECONCILE_WINDOW_MS: must not exceed EVOSYNC_RECONCILE_MAX_WINDOW_MS');
  }
  if (e.EVOSYNC_RETRY_BASE_MS > e.EVOSYNC_RETRY_MAX_MS) {
    problems.push('EVOSYNC_RETRY_BASE_MS: must not exceed EVOSYNC_RETRY_MAX_MS');
  }
  const envInstances = e.EVOSYNC_INSTANCES?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  const instances = [...new Set([...envInstances, ...fileInstances])];
  const amqp = amqpConfig(e, instances, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    database: { url: e.EVOSYNC_DATABASE_URL },
    http: { host: e.EVOSYNC_HOST, port: e.EVOSYNC_PORT, maxBodyBytes: e.EVOSYNC_MAX_BODY_BYTES },
    webhookToken: e.EVOSYNC_WEBHOOK_TOKEN ?? null,
    publicUrl: e.EVOSYNC_PUBLIC_URL ?? null,
    evolution: { url: e.EVOLUTION_URL ?? null, apiKey: e.EVOLUTION_API_KEY ?? null },
    apiToken: e.EVOSYNC_API_TOKEN ?? null,
    metricsToken: e.EVOSYNC_METRICS_TOKEN ?? null,
    dashboard: e.EVOSYNC_DASHBOARD_USER && e.EVOSYNC_DASHBOARD_PASSWORD ? { user: e.EVOSYNC_DASHBOARD_USER, password: e.EVOSYNC_DASHBOARD_PASSWORD } : null,
    live: { coalesceMs: e.EVOSYNC_DASHBOARD_LIVE_MS, ledgerPollMs: e.EVOSYNC_DASHBOARD_POLL_MS },
    reconcile: {
      intervalMs: e.EVOSYNC_RECONCILE_INTERVAL_MS,
      windowMs: e.EVOSYNC_RECONCILE_WINDOW_MS,
      maxWindowMs: e.EVOSYNC_RECONCILE_MAX_WINDOW_MS,
      pageSize: e.EVOSYNC_RECONCILE_PAGE_SIZE,
    },
    instances: instances.length > 0 ? instances : null,
    chatwoot: {
      url: e.CHATWOOT_URL ?? '',
      apiToken: e.CHATWOOT_API_TOKEN ?? '',
      accountId: e.CHATWOOT_ACCOUNT_ID ?? 0,
      inboxId: e.CHATWOOT_INBOX_ID ?? 0,
    },
    targets,
    logLevel: e.EVOSYNC_LOG_LEVEL,
    delivery: {
      concurrency: e.EVOSYNC_DELIVERY_CONCURRENCY,
      maxAttempts: e.EVOSYNC_MAX_ATTEMPTS,
      retryBaseMs: e.EVOSYNC_RETRY_BASE_MS,
      retryMaxMs: e.EVOSYNC_RETRY_MAX_MS,
      deadPolicy: e.EVOSYNC_DEAD_POLICY,
      leaseMs: e.EVOSYNC_LEASE_MS,
      httpTimeoutMs: e.EVOSYNC_HTTP_TIMEOUT_MS,
      conversationCheckMs: e.EVOSYNC_CONVERSATION_CHECK_MS,
      referenceWaitMs: e.EVOSYNC_REFERENCE_WAIT_MS,
      mediaMaxBytes: e.EVOSYNC_MEDIA_MAX_BYTES,
      mediaAllowedHosts: mediaHosts(e, targets),
    },
    conversation: { reopen: e.EVOSYNC_CONVERSATION_REOPEN, status: e.EVOSYNC_CONVERSATION_STATUS },
    ingest: { batchMax: e.EVOSYNC_INGEST_BATCH_MAX, orderWindowMs: e.EVOSYNC_ORDER_WINDOW_MS },
    amqp,
    redis: e.EVOSYNC_REDIS_URL ? { url: e.EVOSYNC_REDIS_URL, prefix: e.EVOSYNC_REDIS_PREFIX, commandTimeoutMs: e.EVOSYNC_REDIS_TIMEOUT_MS } : null,
    chatwootLimits: { requestsPerMinute: e.EVOSYNC_CHATWOOT_RATE_LIMIT, searchPerMinute: e.EVOSYNC_CHATWOOT_SEARCH_RATE_LIMIT, messagesPerConversationPerMinute: CONVERSATION_MESSAGES_PER_MINUTE },
    shutdownGraceMs: e.EVOSYNC_SHUTDOWN_GRACE_MS,
    chatwootWebhook: {
      secrets: (e.CHATWOOT_WEBHOOK_SECRET ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      token: e.EVOSYNC_CHATWOOT_WEBHOOK_TOKEN ?? null,
      signatureWindowS: e.EVOSYNC_CHATWOOT_SIGNATURE_WINDOW_S,
    },
    alerts: {
      webhookUrl: e.EVOSYNC_ALERT_WEBHOOK_URL ?? null,
      chatwoot: e.EVOSYNC_ALERT_CHATWOOT,
      intervalMs: e.EVOSYNC_ALERT_INTERVAL_MS,
      backlogAgeMs: e.EVOSYNC_ALERT_BACKLOG_AGE_MS,
      afterMs: e.EVOSYNC_ALERT_AFTER_MS,
      deadQuietMs: e.EVOSYNC_ALERT_DEAD_QUIET_MS,
    },
    agentReplies: { signature: e.EVOSYNC_AGENT_SIGNATURE, maxAgeMs: e.EVOSYNC_AGENT_REPLY_MAX_AGE_MS, receiptWaitMs: e.EVOSYNC_RECEIPT_WAIT_MS },
  };
  return deepFreeze(config);
}

/**
 * RabbitMQ ingest settings, or null when EVOSYNC_AMQP_URL is unset. Per-instance mode binds to
 * exchanges named after the instances, so it cannot work without knowing them.
 */
function amqpConfig(e: Env, instances: readonly string[], problems: string[]): AmqpConfig | null {
  if (!e.EVOSYNC_AMQP_URL) return null;
  const events = e.EVOSYNC_AMQP_EVENTS ? [...new Set(e.EVOSYNC_AMQP_EVENTS.split(',').map((k) => k.trim()).filter(Boolean))] : [...DEFAULT_AMQP_EVENTS];
  if (e.EVOSYNC_AMQP_MODE === 'instance' && instances.length === 0) {
    problems.push('EVOSYNC_AMQP_MODE: instance mode binds to one exchange per instance, so EVOSYNC_INSTANCES (or EVOSYNC_CONFIG_FILE) must name the instances; or set EVOSYNC_AMQP_MODE=global');
  }
  const queue = e.EVOSYNC_AMQP_QUEUE;
  // Declaring one of Evolution's queues with other arguments breaks Evolution's publishing
  // (PRECONDITION_FAILED closes its channel), and `amq.` names are reserved by the broker.
  if (queue.startsWith('amq.')) problems.push('EVOSYNC_AMQP_QUEUE: names starting with amq. are reserved by RabbitMQ');
  if ((WIRE_EVENTS as readonly string[]).some((ev) => queue === ev || queue.endsWith(`.${ev}`))) {
    problems.push(`EVOSYNC_AMQP_QUEUE: ${queue} looks like one of Evolution's own queues (<instance>.<event> or <prefix>.<event>); use a name of evosync's own`);
  }
  return {
    url: e.EVOSYNC_AMQP_URL,
    mode: e.EVOSYNC_AMQP_MODE,
    exchanges: e.EVOSYNC_AMQP_MODE === 'global' ? [e.EVOSYNC_AMQP_EXCHANGE] : instances,
    queue,
    queueType: e.EVOSYNC_AMQP_QUEUE_TYPE,
    // Twice a batch: the broker keeps sending the next batch while this one commits.
    prefetch: e.EVOSYNC_AMQP_PREFETCH ?? Math.min(65_535, 4 * e.EVOSYNC_INGEST_BATCH_MAX),
    events,
  };
}

/** The hosts agent-reply files may come from: every Chatwoot's own, plus the storage hosts named. */
function mediaHosts(e: Env, targets: Record<string, ChatwootTarget>): string[] {
  const own = [e.CHATWOOT_URL, ...Object.values(targets).map((t) => t.url)].filter((u): u is string => !!u).map((u) => new URL(u).hostname.toLowerCase());
  const named = (e.EVOSYNC_MEDIA_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  return [...new Set([...own, ...named])];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Returns the Chatwoot target for an instance: its own from the config file, else the default. */
export function targetFor(config: Config, instance: string): ChatwootTarget {
  return config.targets[instance] ?? config.chatwoot;
}
