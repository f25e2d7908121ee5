/**
 * The webhook transport (reference §1.4): per-instance webhook first, then the global one, each
 * retried in memory with Evolution's backoff. Nothing here is persisted: a close() drops pending
 * retries exactly as a restart of Evolution would.
 */
import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import type { Random } from '../shared/random.js';
import { byEventsSuffix, configKey, type EmitData } from './events.js';

/** The stored Webhook row (Prisma model Webhook). */
export interface WebhookRow {
  id: string;
  url: string;
  headers: Record<string, string> | null;
  enabled: boolean;
  events: string[];
  webhookByEvents: boolean;
  webhookBase64: boolean;
  createdAt: string;
  updatedAt: string;
  instanceId: string;
}

/** WEBHOOK_GLOBAL_* (no custom headers, no base64). */
export interface GlobalWebhook {
  url: string;
  byEvents: boolean;
  events: Set<string>;
}

export interface RetryPolicy {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  exponential: boolean;
  jitterFactor: number;
  nonRetryable: ReadonlySet<number>;
}

/** WEBHOOK_RETRY_* and WEBHOOK_REQUEST_TIMEOUT_MS defaults. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 10,
  initialDelayMs: 5_000,
  maxDelayMs: 300_000,
  timeoutMs: 30_000,
  exponential: true,
  jitterFactor: 0.2,
  nonRetryable: new Set([400, 401, 403, 404, 422]),
};

export interface DeliveryStats {
  delivered: number;
  /** Failed attempts, retries included. */
  failures: number;
  /** Deliveries abandoned. */
  gaveUp: number;
}

export const emptyDeliveryStats = (): DeliveryStats => ({ delivered: 0, failures: 0, gaveUp: 0 });

const URL_RE = /^(https?:\/\/)/;
/** What axios 1.7 adds to every POST. */
const AXIOS_HEADERS = {
  accept: 'application/json, text/plain, */*',
  'content-type': 'application/json',
  'user-agent': 'axios/1.7.9',
};

class StatusError extends Error {
  constructor(readonly status: number) {
    super(`Request failed with status code ${status}`);
  }
}

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** The `jwt_key` header: replaced by a 10-minute HS256 bearer token signed with its value. */
export function webhookJwt(secret: string, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify({ iat, exp: iat + 600, app: 'evolution', action: 'webhook' }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export class WebhookTransport {
  policy: RetryPolicy = { ...DEFAULT_RETRY };
  private readonly agent = new Agent({ connections: 256, keepAliveTimeout: 4_000 });
  private readonly sleepers = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly rng: Random,
    private readonly clock: () => number,
    private readonly log: (msg: string) => void,
  ) {}

  /** WebhookController.emit: the instance webhook (awaited with its retries), then the global one. */
  async emit(ed: EmitData, local: WebhookRow | null, global: GlobalWebhook | null, stats: DeliveryStats): Promise<void> {
    const we = configKey(ed.event);
    const suffix = byEventsSuffix(ed.event);
    const body = JSON.stringify({
      event: ed.event,
      instance: ed.instanceName,
      data: ed.data,
      destination: local?.url || `${global?.url ?? ''}/${suffix}`,
      date_time: ed.dateTime,
      sender: ed.sender,
      server_url: ed.serverUrl,
      apikey: ed.apiKey,
    });

    if (local?.enabled && local.events.includes(we) && URL_RE.test(local.url)) {
      const url = local.webhookByEvents ? `${local.url}/${suffix}` : local.url;
      const headers: Record<string, string> = { ...(local.headers ?? {}) };
      // jsonwebtoken's HS256 token replaces the raw secret; the secret itself is never sent.
      if ('jwt_key' in headers) {
        const secret = headers['jwt_key'] ?? '';
        delete headers['jwt_key'];
        headers['Authorization'] = `Bearer ${webhookJwt(secret, this.clock())}`;
      }
      await this.deliver(url, headers, body, stats);
    }
    if (global && global.events.has(we)) {
      const url = global.byEvents ? `${global.url}/${suffix}` : global.url;
      if (URL_RE.test(url)) await this.deliver(url, {}, body, stats);
    }
  }

  /** retryWebhookRequest(): non-2xx or transport errors retry; listed statuses fail at once. */
  private async deliver(url: string, custom: Record<string, string>, body: string, stats: DeliveryStats): Promise<void> {
    const p = this.policy;
    let attempts = 0;
    while (attempts < p.maxAttempts && !this.closed) {
      try {
        const res = await request(url, {
          method: 'POST',
          headers: { ...AXIOS_HEADERS, ...custom },
          body,
          dispatcher: this.agent,
          signal: AbortSignal.timeout(p.timeoutMs),
        });
        await res.body.dump().catch(() => undefined);
        if (res.statusCode < 200 || res.statusCode >= 300) throw new StatusError(res.statusCode);
        stats.delivered++;
        return;
      } catch (err) {
        attempts++;
        stats.failures++;
        const status = err instanceof StatusError ? err.status : undefined;
        if (status !== undefined && p.nonRetryable.has(status)) {
          this.log(`webhook ${url}: non-retryable ${status}, giving up`);
          stats.gaveUp++;
          return;
        }
        if (attempts >= p.maxAttempts || this.closed) {
          this.log(`webhook ${url}: all ${attempts} attempts failed (${(err as Error).message})`);
          stats.gaveUp++;
          return;
        }
        await this.sleep(this.nextDelay(attempts));
      }
    }
    if (this.closed) stats.gaveUp++;
  }

  /** min(initial·2^(n-1), max) ± jitter, never below the initial delay. */
  nextDelay(attempts: number): number {
    const p = this.policy;
    if (!p.exponential) return p.initialDelayMs;
    const base = Math.min(p.initialDelayMs * 2 ** (attempts - 1), p.maxDelayMs);
    const jitter = base * p.jitterFactor * (this.rng.next() * 2 - 1);
    return Math.max(p.initialDelayMs, base + jitter);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  /** Pending retries are abandoned, like a restart of Evolution loses them. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
    await this.agent.destroy().catch(() => undefined);
  }
}
