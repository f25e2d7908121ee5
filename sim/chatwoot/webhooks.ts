/**
 * Inbox-callback delivery, modelled on EventDispatcherJob → WebhookJob → Webhooks::Trigger:
 * asynchronous (after the API call returned), payload built at job time, 5 s timeout, at most
 * once (no retry), and on failure of a message_* delivery the message is marked failed with the
 * error text — which fires a message_updated that goes to the same endpoint, until nothing
 * changes. Faults add duplicates and shuffled order, both reported against real Chatwoot.
 */
import { createHmac } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { Agent, request } from 'undici';
import type { Random } from '../shared/random.js';
import { unix } from './coerce.js';
import { isMessageEvent, type DomainEvent, type SimContext } from './context.js';
import { markDeliveryFailed } from './message-ops.js';
import type { ChatwootFaults } from './types.js';
import { buildWebhookPayload, inboxIdOf } from './webhook-views.js';

/** Sidekiq-like worker count: enough parallelism for the benchmark, bounded sockets. */
const MAX_CONCURRENT_DELIVERIES = 16;
const MAX_SHUFFLE_DELAY_MS = 25;

export class WebhookDispatcher {
  private readonly agent = new Agent({ keepAliveTimeout: 4_000, connections: MAX_CONCURRENT_DELIVERIES });
  /** Without shuffling, deliveries of one conversation are serialized in emit order. */
  private readonly chains = new Map<number, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<AbortController>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly ctx: SimContext,
    private readonly rng: Random,
    private readonly timeoutMs: number,
    private readonly faults: () => ChatwootFaults,
  ) {}

  enqueue(e: DomainEvent): void {
    if (this.closed) return;
    const f = this.faults();
    const copies = f.webhookDuplicateRate > 0 && this.rng.chance(f.webhookDuplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.pending++;
      if (f.webhookShuffle) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          void this.run(e);
        }, this.rng.int(0, MAX_SHUFFLE_DELAY_MS));
        this.timers.add(timer);
      } else {
        const key = this.conversationKey(e);
        const previous = this.chains.get(key) ?? Promise.resolve();
        // setImmediate first: the webhook job never runs inside the API request itself.
        const next = previous.then(() => new Promise<void>((r) => setImmediate(r))).then(() => this.run(e));
        this.chains.set(key, next);
        void next.then(() => {
          if (this.chains.get(key) === next) this.chains.delete(key);
        });
      }
    }
  }

  /** Resolves once every queued delivery (and the failure follow-ups) has finished. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inflight) c.abort();
    for (const w of this.waiting.splice(0)) w();
    await this.agent.destroy().catch(() => undefined);
  }

  private conversationKey(e: DomainEvent): number {
    if (isMessageEvent(e)) return this.ctx.store.messages.get(e.messageId)?.conversationPk ?? 0;
    return e.conversationPk;
  }

  private async run(e: DomainEvent): Promise<void> {
    try {
      await this.acquire();
      try {
        if (!this.closed) await this.deliver(e);
      } finally {
        this.release();
      }
    } catch {
      // A delivery must never take the simulator down.
    } finally {
      this.pending--;
      if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async deliver(e: DomainEvent): Promise<void> {
    const { ctx } = this;
    const inboxId = inboxIdOf(ctx, e);
    const inbox = inboxId === undefined ? undefined : ctx.store.inboxes.get(inboxId);
    if (!inbox || inbox.channelType !== 'Channel::Api' || !inbox.webhookUrl) return;
    const payload = buildWebhookPayload(ctx, e);
    if (!payload) return;
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': 'rest-client/2.1.0 (linux x86_64) ruby/3.4.4p34',
      'x-chatwoot-delivery': ctx.ids.uuid(),
    };
    if (inbox.secret) {
      const ts = String(unix(ctx.now()));
      headers['x-chatwoot-timestamp'] = ts;
      headers['x-chatwoot-signature'] = `sha256=${createHmac('sha256', inbox.secret).update(`${ts}.${body}`).digest('hex')}`;
    }
    const error = await this.post(inbox.webhookUrl, body, headers);
    if (error !== null && !this.closed && isMessageEvent(e)) {
      markDeliveryFailed(ctx, e.messageId, error);
    }
  }

  /** Returns null on a 2xx, otherwise the text RestClient's exception would carry. */
  private async post(url: string, body: string, headers: Record<string, string>): Promise<string | null> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return `bad URI(is not URI?): "${url}"`;
    }
    const abort = new AbortController();
    this.inflight.add(abort);
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const res = await request(target, { method: 'POST', body, headers, dispatcher: this.agent, signal: abort.signal });
      await res.body.dump({ limit: 1 << 20 }).catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) return null;
      return `${res.statusCode} ${STATUS_CODES[res.statusCode] ?? 'Unknown Status'}`;
    } catch (err) {
      if (abort.signal.aborted) return 'Timed out reading data from server';
      return describeNetworkError(err, target);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(abort);
    }
  }

  private acquire(): Promise<void> {
    if (this.active < MAX_CONCURRENT_DELIVERIES) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.active++;
        resolve();
      }),
    );
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

/** Ruby/Net::HTTP style messages for connection-level failures. */
function describeNetworkError(err: unknown, target: URL): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  const host = target.hostname;
  switch (code) {
    case 'ECONNREFUSED':
      return `Failed to open TCP connection to ${host}:${port} (Connection refused - connect(2) for "${host}" port ${port})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Failed to open TCP connection to ${host}:${port} (getaddrinfo: Name or service not known)`;
    case 'ECONNRESET':
      return 'Connection reset by peer';
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'end of file reached';
    default:
      return e.message ?? 'Unknown error';
  }
}
