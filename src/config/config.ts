/** The resolved, frozen configuration every component receives; only `load.ts` reads the environment. */
export interface ChatwootTarget {
  url: string;
  apiToken: string;
  accountId: number;
  inboxId: number;
}

export interface Config {
  database: { url: string };
  http: { host: string; port: number; maxBodyBytes: number };
  webhookToken: string | null;
  /** Where Evolution and Chatwoot reach evosync (no trailing slash); null = not configured. */
  publicUrl: string | null;
  evolution: { url: string | null; apiKey: string | null };
  /** Bearer token of the operator API; null = that API refuses every call. */
  apiToken: string | null;
  /** Bearer token of GET /metrics; null = /metrics answers without one. */
  metricsToken: string | null;
  /** Dashboard login at `/`; null = the dashboard is off (both variables unset). */
  dashboard: { user: string; password: string } | null;
  /**
   * Live dashboard updates: changes leave a process at most once per `coalesceMs`; without Redis,
   * a shared ledger is read every `ledgerPollMs` while a dashboard is open.
   */
  live: { coalesceMs: number; ledgerPollMs: number };
  reconcile: { intervalMs: number; windowMs: number; maxWindowMs: number; pageSize: number };
  /** Instances to sync; null = any instance that sends events, delivered to the default target. */
  instances: readonly string[] | null;
  chatwoot: ChatwootTarget;
  /** Per-instance overrides from the config file. */
  targets: Readonly<Record<string, ChatwootTarget>>;
  logLevel: string;
  delivery: {
    concurrency: number;
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
    deadPolicy: 'skip' | 'hold';
    leaseMs: number;
    httpTimeoutMs: number;
    conversationCheckMs: number;
    /** How long an edit or delete waits for the message it refers to before it is skipped. */
    referenceWaitMs: number;
    /** Largest media file fetched from Evolution or uploaded to Chatwoot. */
    mediaMaxBytes: number;
    /**
     * Hosts an agent reply's file may be fetched from (and redirected to), lower-case; `*.x` is a
     * suffix. CHATWOOT_URL's host (and each config-file target's) is always among them.
     */
    mediaAllowedHosts: readonly string[];
  };
  /** Which conversation a chat's messages go to (EVOSYNC_CONVERSATION_*). */
  conversation: ConversationPolicy;
  ingest: { batchMax: number; orderWindowMs: number };
  /** RabbitMQ ingest; null when EVOSYNC_AMQP_URL is unset. */
  amqp: AmqpConfig | null;
  /** Shared cache, cluster rate limiter and message guard; null when EVOSYNC_REDIS_URL is unset. */
  redis: { url: string; prefix: string; commandTimeoutMs: number } | null;
  /** Chatwoot's limits evosync keeps to (cluster-wide with Redis, per process without). */
  chatwootLimits: { requestsPerMinute: number; searchPerMinute: number; messagesPerConversationPerMinute: number };
  shutdownGraceMs: number;
  /** How `POST /webhooks/chatwoot` authenticates Chatwoot; with neither, it refuses every call. */
  chatwootWebhook: { secrets: readonly string[]; token: string | null; signatureWindowS: number };
  /** Alerts evosync raises itself (see src/alerts/). */
  alerts: AlertsConfig;
  /** Chatwoot → WhatsApp. */
  agentReplies: { signature: boolean; maxAgeMs: number; receiptWaitMs: number };
}

export interface AmqpConfig {
  url: string;
  /** instance: one topic exchange per instance, named after it; global: Evolution's global exchange. */
  mode: 'instance' | 'global';
  /** Exchanges evosync binds its queue to (the instance names, or the global exchange). */
  exchanges: readonly string[];
  queue: string;
  queueType: 'quorum' | 'classic';
  prefetch: number;
  /** Routing keys (wire event names) bound on every exchange. */
  events: readonly string[];
}

export interface ConversationPolicy {
  /** Reuse (and reopen) the contact's last conversation even when it is resolved. */
  reopen: boolean;
  /** Status of a conversation evosync starts or reopens. */
  status: 'open' | 'pending';
}

export interface AlertsConfig {
  /** Where alerts are POSTed as JSON; null = no webhook. A secret (Slack webhook URLs are). */
  webhookUrl: string | null;
  /** Also post alerts as private notes in an "evosync alerts" Chatwoot conversation. */
  chatwoot: boolean;
  intervalMs: number;
  /** Oldest pending message older than this alerts; 0 = off. */
  backlogAgeMs: number;
  /** How long a pause or a disconnection must last before it alerts. */
  afterMs: number;
  /** A dead-messages alert recovers after this long without a new dead message. */
  deadQuietMs: number;
}
