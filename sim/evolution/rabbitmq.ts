/**
 * The RabbitMQ transport (reference §1.3), reproducing what makes Evolution's stream lossy:
 * a plain channel (no publisher confirms), bodies without AMQP properties, exchange/queue/binding
 * asserted on every publish WITHOUT waiting for the broker's reply (the callback API returns at
 * once, so Evolution's `await`s are no-ops), events dropped while the channel is down, and a
 * reconnect loop with 5000·2^min(n-1,5) ms backoff that gives up after 10 attempts.
 *
 * (Here the asserts are repeated at most once a second per queue, see REASSERT_MS.) Because they
 * are not awaited, basic.publish can overtake a queue.declare/queue.bind that amqplib still holds
 * back (it sends one RPC at a time but publishes immediately): the first events of a fresh queue
 * (a whole burst, under load) miss Evolution's own queue, and publishing to an instance exchange that
 * does not exist yet closes the channel (NOT_FOUND) and starts a reconnect. That is Evolution's
 * behaviour too; consumers are expected to declare the exchange and their own queues first.
 */
import amqp from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { GLOBAL_EVENT_KEYS, configKey, type EmitData } from './events.js';

/** Prisma model Rabbitmq (per-instance switch). */
export interface RabbitmqRow {
  id: string;
  enabled: boolean;
  events: string[];
  createdAt: string;
  updatedAt: string;
  instanceId: string;
}

export interface RabbitConfig {
  uri: string;
  /** RABBITMQ_EXCHANGE_NAME (asserted on connect; the global-mode exchange). */
  exchangeName: string;
  /** Global mode: RABBITMQ_GLOBAL_ENABLED + per-event flags; null when off. */
  global: { prefixKey: string | undefined; events: Set<string> } | null;
  reconnectBaseMs: number;
  maxReconnectAttempts: number;
}

export interface RabbitStats {
  published: number;
  dropped: number;
}

const EXCHANGE_OPTS = { durable: true, autoDelete: false } as const;
/**
 * Re-assert a given exchange/queue/binding at most this often per channel. Evolution asserts on
 * every publish; quorum-queue declares cost the broker ~0.3 ms each, which would cap a benchmark at
 * a few thousand events/s. Within this window the observable behaviour is the same: a conflicting
 * declaration still breaks the channel, a deleted queue is re-created on the next window.
 */
const REASSERT_MS = 1_000;
const QUEUE_OPTS = { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } } as const;
const ignore = (): void => undefined;

export class RabbitTransport {
  private model: ChannelModel | null = null;
  private channel: Channel | null = null;
  private reconnectAttempts = 0;
  private reconnecting = false;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  /** `${exchange}|${queue}|${bindKey}` → when it was last asserted on the current channel. */
  private asserted = new Map<string, number>();

  constructor(
    readonly config: RabbitConfig,
    private readonly log: (msg: string) => void,
  ) {}

  get connected(): boolean {
    return this.channel !== null;
  }

  /** connect(): channel + the configured exchange, then (global mode) initGlobalQueues(). */
  async connect(): Promise<void> {
    const url = new URL(this.config.uri);
    const model = await amqp.connect({
      protocol: url.protocol.slice(0, -1),
      hostname: url.hostname,
      port: Number(url.port || 5672),
      username: url.username || 'guest',
      password: url.password || 'guest',
      vhost: url.pathname.slice(1) || '/',
      frameMax: 8192,
      heartbeat: 30,
    });
    // Handlers ignore a connection/channel that has already been replaced by a reconnect.
    model.on('error', (err: Error) => {
      this.log(`rabbitmq connection error: ${err.message}`);
      if (this.model === model) this.handleConnectionLoss();
    });
    model.on('close', () => {
      if (this.model === model) this.handleConnectionLoss();
    });
    let channel: Channel;
    try {
      channel = await model.createChannel();
    } catch (err) {
      await model.close().catch(ignore);
      throw err;
    }
    channel.on('error', (err: Error) => {
      this.log(`rabbitmq channel error: ${err.message}`);
      if (this.channel === channel) this.handleConnectionLoss();
    });
    channel.on('close', () => {
      if (this.channel === channel) this.handleConnectionLoss();
    });
    channel.assertExchange(this.config.exchangeName, 'topic', EXCHANGE_OPTS).catch(ignore);
    this.model = model;
    this.channel = channel;
    this.asserted = new Map();
    this.reconnectAttempts = 0;
    this.reconnecting = false;
    if (this.config.global) this.initGlobalQueues(channel);
  }

  /**
   * Evolution's startup declaration of global queues, bugs included: bound with the UPPERCASE
   * config key (nothing is published with it), and named `undefined.<event>` when no prefix is set.
   */
  private initGlobalQueues(ch: Channel): void {
    const g = this.config.global;
    if (!g) return;
    for (const key of GLOBAL_EVENT_KEYS) {
      if (!g.events.has(key)) continue;
      const name = key.replace(/_/g, '.').toLowerCase();
      const queue = g.prefixKey !== '' ? `${String(g.prefixKey)}.${name}` : name;
      ch.assertExchange(this.config.exchangeName, 'topic', EXCHANGE_OPTS).catch(ignore);
      ch.assertQueue(queue, QUEUE_OPTS).catch(ignore);
      ch.bindQueue(queue, this.config.exchangeName, key).catch(ignore);
    }
  }

  /** RabbitmqController.emit for one event: per-instance exchange, then the global exchange. */
  emit(ed: EmitData, local: RabbitmqRow | null, stats: RabbitStats): void {
    const we = configKey(ed.event);
    const wantsLocal = local?.enabled === true && local.events.includes(we);
    const wantsGlobal = this.config.global?.events.has(we) === true;
    if (!this.channel) {
      // ensureConnection(): no channel, no buffer: the event is lost.
      if (!this.reconnecting) this.scheduleReconnect();
      if (wantsLocal || wantsGlobal) {
        stats.dropped++;
        this.log(`Failed to emit event ${ed.event} for instance ${ed.instanceName}: No AMQP connection`);
      }
      return;
    }
    const body = Buffer.from(
      JSON.stringify({
        event: ed.event,
        instance: ed.instanceName,
        data: ed.data,
        server_url: ed.serverUrl,
        date_time: ed.dateTime,
        sender: ed.sender,
        apikey: ed.apiKey,
      }),
    );
    if (wantsLocal) {
      const eventName = ed.event.replace(/_/g, '.').toLowerCase();
      this.publish(ed.instanceName, `${ed.instanceName}.${eventName}`, eventName, ed.event, body, stats);
    }
    const g = this.config.global;
    if (wantsGlobal && g && this.channel) {
      const name = ed.event.replace(/_/g, '.').toLowerCase();
      const queue = g.prefixKey ? `${g.prefixKey}.${name}` : name;
      this.publish(this.config.exchangeName, queue, ed.event, ed.event, body, stats);
    }
  }

  /** Up to 3 tries; only synchronous failures (closed channel) are seen, then the connection is reset. */
  private publish(exchange: string, queue: string, bindKey: string, routingKey: string, body: Buffer, stats: RabbitStats): void {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const ch = this.channel;
      try {
        if (!ch) throw new Error('Channel closed');
        const slot = `${exchange}|${queue}|${bindKey}`;
        const now = Date.now();
        if (now - (this.asserted.get(slot) ?? -Infinity) >= REASSERT_MS) {
          this.asserted.set(slot, now);
          ch.assertExchange(exchange, 'topic', EXCHANGE_OPTS).catch(ignore);
          ch.assertQueue(queue, QUEUE_OPTS).catch(ignore);
          ch.bindQueue(queue, exchange, bindKey).catch(ignore);
        }
        ch.publish(exchange, routingKey, body);
        stats.published++;
        return;
      } catch (err) {
        this.log(`Error publishing RabbitMQ message (attempt ${attempt}/3): ${(err as Error).message}`);
      }
    }
    stats.dropped++;
    this.handleConnectionLoss();
  }

  /**
   * Wait until the broker has processed everything sent so far on this channel (one more
   * idempotent exchange.declare; replies come back in order). Not something Evolution does; it
   * only lets publish() resolve once the events are routed. Wire behaviour is unchanged.
   */
  async flush(): Promise<void> {
    const ch = this.channel;
    if (ch) await ch.assertExchange(this.config.exchangeName, 'topic', EXCHANGE_OPTS).catch(ignore);
  }

  private handleConnectionLoss(): void {
    if (this.reconnecting || this.closing) return;
    this.cleanup();
    this.scheduleReconnect();
  }

  private cleanup(): void {
    const { channel, model } = this;
    this.channel = null;
    this.model = null;
    channel?.close().catch(ignore);
    model?.close().catch(ignore);
  }

  /** What Evolution's connect() does when its first attempt fails: keep trying in the background. */
  startReconnecting(): void {
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnecting) return;
    if (this.reconnectAttempts >= this.config.maxReconnectAttempts) {
      this.log(`Maximum reconnect attempts (${this.config.maxReconnectAttempts}) reached. Stopping reconnection attempts.`);
      return;
    }
    this.reconnecting = true;
    this.reconnectAttempts++;
    const delay = this.config.reconnectBaseMs * 2 ** Math.min(this.reconnectAttempts - 1, 5);
    this.log(`Scheduling RabbitMQ reconnection attempt ${this.reconnectAttempts}/${this.config.maxReconnectAttempts} in ${delay}ms`);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().catch((err: unknown) => {
        this.log(`Reconnection attempt ${this.reconnectAttempts} failed: ${(err as Error).message}`);
        this.reconnecting = false;
        this.scheduleReconnect();
      });
    }, delay);
  }

  /** Attempts made since the last successful connection (0 when healthy). */
  get attempts(): number {
    return this.reconnectAttempts;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const { channel, model } = this;
    this.channel = null;
    this.model = null;
    await channel?.close().catch(ignore);
    await model?.close().catch(ignore);
  }
}
