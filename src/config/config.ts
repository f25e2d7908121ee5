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
  evolution: { url: string | null; apiKey: string | null };
  /** Bearer token of the operator API; null = that API refuses every call. */
  apiToken: string | null;
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
  };
  ingest: { batchMax: number; orderWindowMs: number };
  /** RabbitMQ ingest; null when EVOSYNC_AMQP_URL is unset. */
  amqp: AmqpConfig | null;
  shutdownGraceMs: number;
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
