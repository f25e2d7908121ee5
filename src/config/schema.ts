import { z } from 'zod';

/**
 * Every setting evosync reads, by its public environment name, with its default and meaning.
 * The README's settings table is written from this list, and `evosync --help` prints it, so a
 * setting that is not here does not exist. Units are part of the names (`_MS`, `_SECONDS`).
 */
/**
 * Routing keys bound by default: the events evosync acts on, plus the ones later features (receipts,
 * deletes, edits, contacts) will read, so the queue already carries them when they land.
 */
export const DEFAULT_AMQP_EVENTS = ['messages.upsert', 'send.message', 'connection.update', 'messages.update', 'messages.delete', 'messages.edited', 'contacts.upsert'] as const;

export interface SettingDoc {
  env: string;
  default?: string;
  description: string;
  secret?: boolean;
}

export const SETTINGS: readonly SettingDoc[] = [
  { env: 'EVOSYNC_DATABASE_URL', default: 'sqlite:./evosync.db', description: 'Ledger location: sqlite:<path> (embedded, one process) or postgres://user@host/db.' },
  { env: 'EVOSYNC_HOST', default: '0.0.0.0', description: 'Address the HTTP server binds to.' },
  { env: 'EVOSYNC_PORT', default: '8090', description: 'HTTP port for webhooks, API, health and metrics.' },
  { env: 'EVOSYNC_PUBLIC_URL', description: 'Base URL at which Evolution and Chatwoot reach evosync, e.g. https://evosync.example.com. `evosync setup` points their webhooks at <url>/webhooks/evolution and <url>/webhooks/chatwoot; `evosync doctor` checks they do.' },
  { env: 'EVOSYNC_WEBHOOK_TOKEN', description: 'Shared token Evolution must send (Authorization: Bearer, X-Evosync-Token header, ?token= or /webhooks/evolution/t/<token>). Required to accept Evolution webhooks.', secret: true },
  { env: 'EVOLUTION_URL', description: 'Base URL of Evolution API, e.g. https://evo.example.com.' },
  { env: 'EVOLUTION_API_KEY', description: 'Evolution global API key (or an instance token).', secret: true },
  { env: 'EVOSYNC_INSTANCES', description: 'Comma-separated Evolution instance names to sync; empty = every instance that sends events.' },
  { env: 'CHATWOOT_URL', description: 'Base URL of Chatwoot, e.g. https://chat.example.com.' },
  { env: 'CHATWOOT_API_TOKEN', description: 'Access token of a Chatwoot *user* (an administrator); bot tokens cannot read contacts.', secret: true },
  { env: 'CHATWOOT_ACCOUNT_ID', description: 'Chatwoot account id (the number in /app/accounts/<id>).' },
  { env: 'CHATWOOT_INBOX_ID', description: 'Id of the API-channel inbox that receives the WhatsApp conversations.' },
  { env: 'EVOSYNC_CONFIG_FILE', description: 'Optional JSON file mapping several Evolution instances to their own Chatwoot account and inbox.' },
  { env: 'EVOSYNC_API_TOKEN', description: 'Bearer token for the operator API (POST /api/reconcile, GET /api/reconcile/runs, GET /api/trace/:id, GET /api/stats); unset = that API answers 401. At least 16 characters.', secret: true },
  { env: 'EVOSYNC_METRICS_TOKEN', description: 'Bearer token Prometheus must send to GET /metrics (authorization.credentials in the scrape config). Unset = /metrics answers without one: it holds counts, states and instance names, never message content or credentials. At least 16 characters.', secret: true },
  { env: 'EVOSYNC_DASHBOARD_USER', description: 'User name of the dashboard at / (set together with EVOSYNC_DASHBOARD_PASSWORD; with neither, the dashboard is off).' },
  { env: 'EVOSYNC_DASHBOARD_PASSWORD', description: 'Password of the dashboard, at least 12 characters (set together with EVOSYNC_DASHBOARD_USER).', secret: true },
  { env: 'EVOSYNC_DASHBOARD_LIVE_MS', default: '500', description: 'Live dashboard updates: a process sends what changed (to the other processes through Redis, and to its open dashboards) at most once per this period; everything that changed meanwhile travels together. 100 to 10000.' },
  { env: 'EVOSYNC_DASHBOARD_POLL_MS', default: '5000', description: 'Live dashboard updates on a PostgreSQL ledger without Redis (unset, or away): how often an open dashboard reads the ledger to show what the other processes did. Its own process\'s work still shows at once. 1000 to 300000.' },
  { env: 'EVOSYNC_RECONCILE_INTERVAL_MS', default: '600000', description: 'How often every instance is reconciled against Evolution\'s stored messages (needs EVOLUTION_URL and EVOLUTION_API_KEY). 0 = no schedule.' },
  { env: 'EVOSYNC_RECONCILE_WINDOW_MS', default: '3600000', description: 'How far back a scheduled reconcile looks.' },
  { env: 'EVOSYNC_RECONCILE_MAX_WINDOW_MS', default: '86400000', description: 'How far back a reconcile triggered by a reconnect (connection.update open) may look, from the instance\'s last known event.' },
  { env: 'EVOSYNC_RECONCILE_PAGE_SIZE', default: '200', description: 'Stored messages read per /chat/findMessages page (one page in memory at a time).' },
  { env: 'EVOSYNC_LOG_LEVEL', default: 'info', description: 'pino log level: fatal, error, warn, info, debug, trace.' },
  { env: 'EVOSYNC_DELIVERY_CONCURRENCY', default: '32', description: 'Chats (lanes) delivered in parallel; one message at a time within a chat.' },
  { env: 'EVOSYNC_MAX_ATTEMPTS', default: '15', description: 'Failed attempts (of the message\'s own making) before a message is dead.' },
  { env: 'EVOSYNC_RETRY_BASE_MS', default: '1000', description: 'First retry delay; doubles per attempt, with jitter.' },
  { env: 'EVOSYNC_RETRY_MAX_MS', default: '300000', description: 'Cap of the retry delay.' },
  { env: 'EVOSYNC_DEAD_POLICY', default: 'skip', description: 'What a dead message does to its chat: skip (the chat moves on) or hold (the chat waits for an operator).' },
  { env: 'EVOSYNC_LEASE_MS', default: '30000', description: 'How long a process owns a chat lane before another may take it over.' },
  { env: 'EVOSYNC_HTTP_TIMEOUT_MS', default: '15000', description: 'Timeout of one request to Chatwoot or Evolution.' },
  { env: 'EVOSYNC_ORDER_WINDOW_MS', default: '500', description: 'How long a new message waits before delivery, so that one Evolution published a moment late (webhooks are sent concurrently) still lands in WhatsApp order. 0 = deliver at once.' },
  { env: 'EVOSYNC_INGEST_BATCH_MAX', default: '2000', description: 'Most events written to the ledger by one commit.' },
  { env: 'EVOSYNC_CONVERSATION_CHECK_MS', default: '300000', description: 'How long a cached Chatwoot conversation is trusted before its status is checked again (a resolved one is not reused).' },
  { env: 'EVOSYNC_CONVERSATION_REOPEN', default: 'false', description: 'true: a customer\'s next message goes to their last conversation in the inbox even when it is resolved, which is reopened (to EVOSYNC_CONVERSATION_STATUS); false: a resolved conversation stays closed and a new one is started, as Chatwoot\'s own WhatsApp channel does.' },
  { env: 'EVOSYNC_CONVERSATION_STATUS', default: 'open', description: 'Status of a conversation evosync starts or reopens: open, or pending (waits in the bot/triage queue until an agent takes it).' },
  { env: 'EVOSYNC_REFERENCE_WAIT_MS', default: '60000', description: 'How long an edit or delete waits for the message it refers to (not yet received, or not yet delivered) before it is skipped with that reason. The chat\'s later messages wait behind it meanwhile.' },
  { env: 'EVOSYNC_SHUTDOWN_GRACE_MS', default: '10000', description: 'Time in-flight deliveries get to finish on shutdown before they are aborted.' },
  { env: 'EVOSYNC_MAX_BODY_BYTES', default: '33554432', description: 'Largest webhook body accepted (media arrives as base64).' },
  { env: 'EVOSYNC_MEDIA_ALLOWED_HOSTS', description: 'Comma-separated host names (or *.suffix) an agent reply\'s file may be fetched from besides CHATWOOT_URL\'s host, which is always allowed: where Chatwoot\'s ActiveStorage redirects downloads (S3, GCS, a CDN), e.g. mybucket.s3.amazonaws.com. A redirect to any other host is not followed; link-local and cloud metadata addresses are never fetched.' },
  { env: 'EVOSYNC_MEDIA_MAX_BYTES', default: '104857600', description: 'Largest media file evosync fetches from Evolution or uploads to Chatwoot (default: WhatsApp\'s largest, 100 MB documents). A larger file is delivered as a text saying it is not available and why.' },
  { env: 'CHATWOOT_WEBHOOK_SECRET', description: 'Secret of the Chatwoot API inbox (Chatwoot ≥ 4.13, admin-only field of the inbox) or of an account webhook: X-Chatwoot-Signature is then required and verified. Several secrets, comma-separated, during a rotation or for several inboxes.', secret: true },
  { env: 'EVOSYNC_CHATWOOT_WEBHOOK_TOKEN', description: 'For Chatwoot before 4.13 (unsigned webhooks): a token of at least 16 characters that the inbox webhook URL carries, as /webhooks/chatwoot?token=<token>. Chatwoot webhooks are refused when neither this nor CHATWOOT_WEBHOOK_SECRET is set.', secret: true },
  { env: 'EVOSYNC_CHATWOOT_SIGNATURE_WINDOW_S', default: '300', description: 'How far X-Chatwoot-Timestamp may be from now, in seconds, for a signed webhook to be accepted (replay window).' },
  { env: 'EVOSYNC_AGENT_SIGNATURE', default: 'false', description: 'true: agent replies reach WhatsApp prefixed with the agent\'s name in bold ("*Ana:*" and a newline).' },
  { env: 'EVOSYNC_AGENT_REPLY_MAX_AGE_MS', default: '86400000', description: 'An agent reply older than this (since the agent wrote it) is never sent to WhatsApp; it is marked failed in Chatwoot instead. Stops a backlog from sending stale answers.' },
  { env: 'EVOSYNC_RECEIPT_WAIT_MS', default: '60000', description: 'How long a WhatsApp receipt (delivered/read) waits for the message it is about to be known before it is skipped (at most 10 s once newer messages of its chat wait behind it).' },
  { env: 'EVOSYNC_ALERT_WEBHOOK_URL', description: 'URL evosync POSTs its alerts to as JSON: a Slack-compatible `text` plus structured fields (alert, status firing or recovered, summary, details, times). Unset = no webhook; alerts are still logged and counted.', secret: true },
  { env: 'EVOSYNC_ALERT_CHATWOOT', default: 'false', description: 'true: also post every alert as a private note in an "evosync alerts" conversation of the default Chatwoot inbox (CHATWOOT_*), created on first use.' },
  { env: 'EVOSYNC_ALERT_INTERVAL_MS', default: '15000', description: 'How often alert conditions are evaluated; alerts that could not be sent are retried at the same pace.' },
  { env: 'EVOSYNC_ALERT_BACKLOG_AGE_MS', default: '600000', description: 'Alert when the oldest message still waiting for delivery is older than this. 0 = no backlog alert.' },
  { env: 'EVOSYNC_ALERT_AFTER_MS', default: '60000', description: 'How long delivery must stay paused (bad token, Chatwoot down) or an instance disconnected before it alerts, so blips and a 429\'s one-minute wait do not.' },
  { env: 'EVOSYNC_ALERT_DEAD_QUIET_MS', default: '900000', description: 'A dead-messages alert recovers once no message has gone dead for this long.' },
  { env: 'EVOSYNC_REDIS_URL', description: 'Redis (redis://[:password@]host:6379[/db]) shared by several evosync processes: Chatwoot look-ups cached for all of them, one cluster-wide Chatwoot rate limit, a per-message "being delivered" marker, live dashboard updates across processes. Optional: unset (or Redis away) = each process uses the ledger and its own rate limit, and dashboards see other processes\' work every EVOSYNC_DASHBOARD_POLL_MS.', secret: true },
  { env: 'EVOSYNC_REDIS_PREFIX', default: 'evosync:', description: 'Prefix of every Redis key evosync writes (one prefix per evosync cluster sharing a Redis).' },
  { env: 'EVOSYNC_REDIS_TIMEOUT_MS', default: '250', description: 'Longest wait for one Redis command; past it evosync carries on without Redis for that call.' },
  { env: 'EVOSYNC_CHATWOOT_RATE_LIMIT', default: '3000', description: 'Requests per minute evosync sends one Chatwoot server, across all its processes (Chatwoot\'s RACK_ATTACK_LIMIT, per client IP). Kept below it, so evosync never earns a 429. 0 = no limit (Chatwoot without Rack::Attack).' },
  { env: 'EVOSYNC_CHATWOOT_SEARCH_RATE_LIMIT', default: '100', description: 'contacts/search requests per minute per Chatwoot account (Chatwoot\'s RATE_LIMIT_CONTACT_SEARCH). 0 = no limit.' },
  { env: 'EVOSYNC_AMQP_URL', description: 'RabbitMQ URL (amqp://user:pass@host:5672/vhost) to consume Evolution\'s own events from; unset = RabbitMQ ingest off.', secret: true },
  { env: 'EVOSYNC_AMQP_MODE', default: 'instance', description: 'instance: bind to one exchange per instance, named after it (needs EVOSYNC_INSTANCES or the config file); global: bind to Evolution\'s global exchange.' },
  { env: 'EVOSYNC_AMQP_EXCHANGE', default: 'evolution_exchange', description: 'Evolution\'s global exchange (RABBITMQ_EXCHANGE_NAME), global mode only.' },
  { env: 'EVOSYNC_AMQP_QUEUE', default: 'evosync.ingest', description: 'evosync\'s own durable queue, bound to the exchange(s); never one of Evolution\'s queue names.' },
  { env: 'EVOSYNC_AMQP_QUEUE_TYPE', default: 'quorum', description: 'Type of evosync\'s queue: quorum (replicated, survives broker restarts) or classic.' },
  { env: 'EVOSYNC_AMQP_PREFETCH', description: 'Unacknowledged messages the broker may hand evosync at once (default: four times EVOSYNC_INGEST_BATCH_MAX, so batches keep arriving while one commits: a quorum queue takes tens of milliseconds to turn an ack into new deliveries); each is acked once its commit is durable.' },
  { env: 'EVOSYNC_AMQP_EVENTS', default: 'messages.upsert,send.message,connection.update,messages.update,messages.delete,messages.edited,contacts.upsert', description: 'Routing keys (Evolution event names) to bind; events evosync does not act on are acknowledged as ignored.' },
];

const positiveInt = (min = 1, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
  .transform((u) => u.replace(/\/+$/, ''));

/** Shape of one instance → Chatwoot target mapping (config file or the single env default). */
export const InstanceTargetSchema = z.object({
  instance: z.string().min(1),
  chatwoot: z
    .object({
      url: httpUrl.optional(),
      apiToken: z.string().min(1).optional(),
      accountId: positiveInt().optional(),
      inboxId: positiveInt().optional(),
    })
    .strict()
    .optional(),
}).strict();

export const ConfigFileSchema = z.object({ instances: z.array(InstanceTargetSchema).min(1) }).strict();

/** Raw environment after validation, before composition into the resolved config. */
export const EnvSchema = z.object({
  EVOSYNC_DATABASE_URL: z
    .string()
    .default('sqlite:./evosync.db')
    .refine((u) => /^(sqlite:|postgres(ql)?:\/\/)/.test(u), 'must start with sqlite: or postgres://'),
  EVOSYNC_HOST: z.string().min(1).default('0.0.0.0'),
  EVOSYNC_PORT: positiveInt(0, 65535).default(8090),
  EVOSYNC_PUBLIC_URL: httpUrl.optional(),
  EVOSYNC_WEBHOOK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  EVOLUTION_URL: httpUrl.optional(),
  EVOLUTION_API_KEY: z.string().min(1).optional(),
  EVOSYNC_INSTANCES: z.string().optional(),
  CHATWOOT_URL: httpUrl.optional(),
  CHATWOOT_API_TOKEN: z.string().min(1).optional(),
  CHATWOOT_ACCOUNT_ID: positiveInt().optional(),
  CHATWOOT_INBOX_ID: positiveInt().optional(),
  EVOSYNC_CONFIG_FILE: z.string().min(1).optional(),
  EVOSYNC_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  EVOSYNC_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  EVOSYNC_MEDIA_ALLOWED_HOSTS: z
    .string()
    .refine((v) => v.split(',').map((h) => h.trim()).filter(Boolean).every((h) => /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(h)), 'comma-separated host names or *.suffix, without scheme, port or path (e.g. mybucket.s3.amazonaws.com,*.storage.googleapis.com)')
    .optional(),
  EVOSYNC_DASHBOARD_USER: z.string().min(1).max(128).optional(),
  EVOSYNC_DASHBOARD_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(1024).optional(),
  // Below 100 ms a busy process would publish (and dashboards re-read the ledger) for little gain.
  EVOSYNC_DASHBOARD_LIVE_MS: positiveInt(100, 10_000).default(500),
  EVOSYNC_DASHBOARD_POLL_MS: positiveInt(1000, 300_000).default(5000),
  EVOSYNC_RECONCILE_INTERVAL_MS: positiveInt(0).refine((v) => v === 0 || v >= 1000, 'must be 0 (off) or at least 1000').default(600_000),
  EVOSYNC_RECONCILE_WINDOW_MS: positiveInt(1000).default(3_600_000),
  EVOSYNC_RECONCILE_MAX_WINDOW_MS: positiveInt(1000).default(86_400_000),
  EVOSYNC_RECONCILE_PAGE_SIZE: positiveInt(1, 1000).default(200),
  EVOSYNC_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EVOSYNC_DELIVERY_CONCURRENCY: positiveInt(1, 1024).default(32),
  EVOSYNC_MAX_ATTEMPTS: positiveInt(1, 1000).default(15),
  EVOSYNC_RETRY_BASE_MS: positiveInt(10).default(1000),
  EVOSYNC_RETRY_MAX_MS: positiveInt(10).default(300_000),
  EVOSYNC_DEAD_POLICY: z.enum(['skip', 'hold']).default('skip'),
  EVOSYNC_LEASE_MS: positiveInt(1000).default(30_000),
  EVOSYNC_HTTP_TIMEOUT_MS: positiveInt(100).default(15_000),
  EVOSYNC_ORDER_WINDOW_MS: positiveInt(0, 60_000).default(500),
  EVOSYNC_INGEST_BATCH_MAX: positiveInt(1, 10_000).default(2000),
  EVOSYNC_CONVERSATION_CHECK_MS: positiveInt(0).default(300_000),
  EVOSYNC_CONVERSATION_REOPEN: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  EVOSYNC_CONVERSATION_STATUS: z.enum(['open', 'pending']).default('open'),
  EVOSYNC_REFERENCE_WAIT_MS: positiveInt(0, 3_600_000).default(60_000),
  EVOSYNC_SHUTDOWN_GRACE_MS: positiveInt(0).default(10_000),
  EVOSYNC_MAX_BODY_BYTES: positiveInt(1024).default(32 * 1024 * 1024),
  // Above 256 MB a file's base64 answer would pass V8's largest string.
  EVOSYNC_MEDIA_MAX_BYTES: positiveInt(1024, 256 * 1024 * 1024).default(100 * 1024 * 1024),
  CHATWOOT_WEBHOOK_SECRET: z.string().min(1).optional(),
  EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  EVOSYNC_CHATWOOT_SIGNATURE_WINDOW_S: positiveInt(1, 86_400).default(300),
  EVOSYNC_AGENT_SIGNATURE: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
  EVOSYNC_AGENT_REPLY_MAX_AGE_MS: positiveInt(60_000).default(86_400_000),
  EVOSYNC_RECEIPT_WAIT_MS: positiveInt(1000).default(60_000),
  EVOSYNC_ALERT_WEBHOOK_URL: httpUrl.optional(),
  EVOSYNC_ALERT_CHATWOOT: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
  // Below 100 ms the ledger would be read for nothing; tests use short intervals, production 15 s.
  EVOSYNC_ALERT_INTERVAL_MS: positiveInt(100, 3_600_000).default(15_000),
  EVOSYNC_ALERT_BACKLOG_AGE_MS: positiveInt(0).refine((v) => v === 0 || v >= 1000, 'must be 0 (off) or at least 1000').default(600_000),
  EVOSYNC_ALERT_AFTER_MS: positiveInt(0, 86_400_000).default(60_000),
  EVOSYNC_ALERT_DEAD_QUIET_MS: positiveInt(1000).default(900_000),
  EVOSYNC_REDIS_URL: z
    .string()
    .refine((u) => /^rediss?:\/\/[^/]/.test(u), 'must be a redis:// or rediss:// URL')
    .optional(),
  EVOSYNC_REDIS_PREFIX: z.string().min(1).max(64).default('evosync:'),
  EVOSYNC_REDIS_TIMEOUT_MS: positiveInt(10, 10_000).default(250),
  EVOSYNC_CHATWOOT_RATE_LIMIT: positiveInt(0).default(3000),
  EVOSYNC_CHATWOOT_SEARCH_RATE_LIMIT: positiveInt(0).default(100),
  EVOSYNC_AMQP_URL: z
    .string()
    .refine((u) => /^amqps?:\/\/[^/]/.test(u), 'must be an amqp:// or amqps:// URL')
    .optional(),
  EVOSYNC_AMQP_MODE: z.enum(['instance', 'global']).default('instance'),
  EVOSYNC_AMQP_EXCHANGE: z.string().min(1).max(255).default('evolution_exchange'),
  EVOSYNC_AMQP_QUEUE: z.string().min(1).max(255).default('evosync.ingest'),
  EVOSYNC_AMQP_QUEUE_TYPE: z.enum(['quorum', 'classic']).default('quorum'),
  EVOSYNC_AMQP_PREFETCH: positiveInt(1, 65_535).optional(),
  EVOSYNC_AMQP_EVENTS: z
    .string()
    .refine((s) => s.split(',').every((k) => /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(k.trim())), 'comma-separated lowercase event names, e.g. messages.upsert,send.message')
    .optional(),
});

export type Env = z.infer<typeof EnvSchema>;
