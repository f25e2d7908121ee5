/**
 * Public contract of the fake Chatwoot. Tests, the benchmark, the demo and the chaos run all
 * import these shapes, so they change only together with their users.
 */

export interface ChatwootSimOptions {
  /** 0 (default) = random free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 1. */
  accountId?: number;
  /** Default 1. Seeds every random decision (ids, tokens, faults, webhook shuffling). */
  seed?: number;
  /**
   * Default false. When true: Rack::Attack-style 3000 req/min per client IP (fixed windows
   * aligned to the epoch minute) and contacts/search 100/min per account. 429 text/plain
   * "Retry later\n", no Retry-After.
   */
  rateLimits?: boolean;
  /** Overrides the 3000 req/min per IP limit (for tests). */
  requestsPerMinute?: number;
  /** Overrides the 100/min contact-search limit (for tests). */
  searchRequestsPerMinute?: number;
  /** Default 200. Model-level flood guard, always on: 422 {"error":"Validation failed: Too many messages"}. */
  conversationMessagePerMinuteLimit?: number;
  /** Default 5000. */
  webhookTimeoutMs?: number;
  /** Inbox webhook secret (4.13 signing). undefined = unsigned (≤ 4.10 behaviour). */
  secret?: string;
  /** ms since the epoch; default Date.now. Drives rate windows, the flood guard and timestamps. */
  clock?: () => number;
  /**
   * Host name the ActiveStorage redirect sends downloads to, as S3 or GCS would be another host
   * than Chatwoot's (the sim serves the files there itself: e.g. 'localhost' for a sim listening
   * on 127.0.0.1). Default: the sim's own host.
   */
  storageHost?: string;
}

export interface ChatwootFaults {
  /** Share of /api requests answered 500/502/503 without any side effect. Default 0. */
  errorRate: number;
  /** Share of write requests that perform their side effect, then never answer (socket held `hangMs`, then destroyed). */
  timeoutAfterCommitRate: number;
  /** Default 30000. */
  hangMs: number;
  /** Delay added before handling each /api request. Default 0. */
  latencyMs: number;
  /** Every /api request: socket destroyed immediately, nothing done. */
  outage: boolean;
  /** Share of outgoing webhooks sent twice. */
  webhookDuplicateRate: number;
  /** Deliver webhooks with random small delays so their order is not guaranteed. */
  webhookShuffle: boolean;
  /**
   * Rack::Attack on (see ChatwootSimOptions.rateLimits, its initial value): 3000 requests a minute
   * per client IP, contacts/search 100 a minute per account; 429 "Retry later\n" past them.
   */
  rateLimits: boolean;
}

export interface AgentReplyAttachment {
  fileName: string;
  contentType: string;
  data: Buffer;
}

export interface ChatwootStats {
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimited: number;
}

export interface ChatwootSim {
  /** e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  accountId: number;
  /** The API-channel inbox ("WhatsApp") created at start. */
  inboxId: number;
  /** Administrator api_access_token. */
  token: string;
  /** Agent-role user token (member of the inbox). */
  agentToken: string;
  /** Agent-bot token (allow-listed endpoints only). */
  botToken: string;
  setFaults(partial: Partial<ChatwootFaults>): void;
  faults(): ChatwootFaults;
  setInboxWebhook(url: string | null, secret?: string | null): void;
  /**
   * Simulates an agent typing a reply in the dashboard: creates an outgoing (or private) message
   * from the admin user and emits message_created to the inbox webhook. Returns the message JSON.
   */
  agentReply(
    conversationDisplayId: number,
    content: string,
    opts?: { private?: boolean; attachments?: AgentReplyAttachment[]; inReplyTo?: number },
  ): Promise<Record<string, unknown>>;
  /** Full read-only view for verifiers. */
  snapshot(): ChatwootSnapshot;
  stats(): ChatwootStats;
  resetStats(): void;
  close(): Promise<void>;
}

export type SnapshotMessageType = 'incoming' | 'outgoing' | 'activity' | 'template';

export interface ChatwootSnapshot {
  contacts: Array<{
    id: number;
    name: string;
    phone_number: string | null;
    identifier: string | null;
    email: string | null;
  }>;
  contactInboxes: Array<{ id: number; contact_id: number; inbox_id: number; source_id: string }>;
  conversations: Array<{
    id: number /* display_id */;
    contact_id: number;
    inbox_id: number;
    status: string;
    contact_inbox_source_id: string;
  }>;
  messages: Array<{
    id: number;
    conversation_id: number /* display_id */;
    inbox_id: number;
    content: string | null;
    message_type: SnapshotMessageType;
    private: boolean;
    source_id: string | null;
    status: string;
    content_attributes: Record<string, unknown>;
    created_at: number /* unix s */;
    seq: number /* insertion order */;
    attachments: Array<{ file_type: string; content_type: string; file_name: string; file_size: number }>;
  }>;
}
