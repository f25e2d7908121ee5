/**
 * RabbitMQ ingest: consumes Evolution's own events from evosync's queue and acks each delivery only
 * after `intake.accept()` resolved, i.e. after its ledger commit.
 *
 * Client: amqplib 0.10 (already a dependency, also what Evolution itself uses). Its promise API
 * gives explicit control over the pieces that matter here — manual acks with `allUpTo`, prefetch,
 * basic.cancel on shutdown, consumer-cancel notification — and it does not reconnect on its own,
 * which is what we want: recovery re-declares the topology and starts a fresh ack window, in one
 * place (the run loop below), instead of a library replaying half-known state.
 */
import { hostname } from 'node:os';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { AmqpConfig } from '../config/config.js';
import { coerceError } from '../errors.js';
import { type Normalized, normalizeEnvelope } from '../evolution/normalize.js';
import type { RefusedInput } from '../ledger/ledger.js';
import { backoffMs } from '../lib/backoff.js';
import { jsonDeeperThan, jsonErrorReason, MAX_JSON_DEPTH } from '../lib/json-guard.js';
import type { Logger } from '../lib/logger.js';
import { delay, shutdownController } from '../lib/sleep.js';
import { AckWindow } from './amqp-acks.js';
import { declareTopology, type Topology, topologyFor } from './amqp-topology.js';
import type { Intake } from './intake.js';

export type AmqpState = 'connecting' | 'connected' | 'reconnecting' | 'stopping' | 'stopped';

export interface AmqpStatus {
  state: AmqpState;
  queue: string;
  lastError: string | null;
  lastErrorAt: number | null;
  connectedSince: number | null;
  /** Connections (re)established since start. */
  connects: number;
  received: number;
  redelivered: number;
  acked: number;
  refused: number;
  ignored: number;
  /** Commits that failed and were retried with the delivery held unacked. */
  commitRetries: number;
  /** Deliveries received and not yet acked. */
  unacked: number;
}

export interface AmqpConsumerOptions {
  /** First reconnect delay; doubles per failed attempt, with jitter, up to reconnectMaxMs. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Backoff for a commit that failed (ledger error) while its delivery is held. */
  commitRetryBaseMs?: number;
  commitRetryMaxMs?: number;
  /** Shown in the broker's connection list (`rabbitmqctl list_connections client_properties`). */
  connectionName?: string;
}

interface Session {
  conn: ChannelModel;
  ch: Channel;
  consumerTag: string | null;
  acks: AckWindow<ConsumeMessage>;
  /** Deliveries received in this turn of the event loop, stored together (see #onMessage). */
  burst: ConsumeMessage[];
  inFlight: number;
  alive: boolean;
  /** Shutting down in order: the session closes its channel first, then its connection. */
  draining: boolean;
  ackScheduled: boolean;
  openedAt: number;
  /** Aborted when the session ends: cuts commit-retry sleeps short. */
  abort: AbortController;
  ended: Promise<Error>;
  end(reason: Error): void;
}

/** A session that lived this long counts as healthy: the next failure starts the backoff over. */
const HEALTHY_SESSION_MS = 5_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** Deliveries parsed per turn of the event loop (see #takeBurst). */
const BURST_SLICE = 64;
const ignore = (): void => undefined;

export class AmqpConsumer {
  readonly #config: AmqpConfig;
  readonly #intake: Intake;
  readonly #logger: Logger;
  readonly #topology: Topology;
  readonly #opts: Required<AmqpConsumerOptions>;
  #state: AmqpState = 'stopped';
  #session: Session | null = null;
  #loop: Promise<void> | null = null;
  #stopRequested = false;
  #graceMs = 0;
  readonly #stopSignal = shutdownController();
  #stopping: Promise<void> | null = null;
  #status = { lastError: null as string | null, lastErrorAt: null as number | null, connectedSince: null as number | null, connects: 0, received: 0, redelivered: 0, acked: 0, refused: 0, ignored: 0, commitRetries: 0 };

  constructor(config: AmqpConfig, intake: Intake, logger: Logger, opts: AmqpConsumerOptions = {}) {
    this.#config = config;
    this.#intake = intake;
    this.#logger = logger;
    this.#topology = topologyFor(config);
    this.#opts = {
      reconnectBaseMs: opts.reconnectBaseMs ?? 500,
      reconnectMaxMs: opts.reconnectMaxMs ?? 30_000,
      commitRetryBaseMs: opts.commitRetryBaseMs ?? 200,
      commitRetryMaxMs: opts.commitRetryMaxMs ?? 5_000,
      connectionName: opts.connectionName ?? `evosync ${hostname()}:${process.pid}`,
    };
  }

  get state(): AmqpState {
    return this.#state;
  }

  status(): AmqpStatus {
    return { state: this.#state, queue: this.#config.queue, ...this.#status, unacked: this.#session?.acks.outstanding ?? 0 };
  }

  /** Starts consuming in the background; never throws: failures show in status() and the logs. */
  start(): void {
    if (this.#loop) return;
    this.#state = 'connecting';
    this.#loop = this.#run();
  }

  /**
   * Ordered shutdown: basic.cancel (no new deliveries), wait up to `graceMs` for in-flight deliveries
   * to commit and be acked, then close channel and connection. Whatever is still unacked then goes
   * back to the queue and is redelivered to the next consumer; the ledger drops the duplicates.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopRequested = true;
      this.#graceMs = graceMs;
      if (this.#loop) this.#state = 'stopping';
      this.#stopSignal.abort();
      const s = this.#session;
      if (s) await this.#drainAndClose(s, graceMs);
      await this.#loop;
      this.#state = 'stopped';
    })();
    return this.#stopping;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopRequested) {
      let s: Session | null = null;
      try {
        s = await this.#open();
      } catch (error) {
        this.#failed(error, 'could not connect to RabbitMQ');
      }
      if (s) {
        this.#session = s;
        if (this.#stopRequested) {
          // stop() came while connecting and found no session to drain.
          await this.#drainAndClose(s, this.#graceMs);
          break;
        }
        this.#state = 'connected';
        this.#status.connectedSince = Date.now();
        this.#status.connects += 1;
        this.#logger.info({ queue: this.#config.queue, exchanges: this.#config.exchanges, prefetch: this.#config.prefetch }, 'consuming from RabbitMQ');
        const reason = await s.ended;
        this.#status.connectedSince = null;
        if (this.#stopRequested) break;
        this.#failed(reason, 'RabbitMQ connection lost; reconnecting');
        if (Date.now() - s.openedAt >= HEALTHY_SESSION_MS) attempt = 0;
      }
      attempt += 1;
      this.#state = 'reconnecting';
      await delay(backoffMs(attempt, this.#opts.reconnectBaseMs, this.#opts.reconnectMaxMs), this.#stopSignal.signal);
    }
  }

  async #open(): Promise<Session> {
    const url = new URL(this.#config.url);
    // Broker restarts close connections cleanly; heartbeats catch a host or network that vanished.
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '15');
    // The timeout covers TCP connect and the AMQP handshake: a node in the middle of stop_app or
    // start_app can accept the socket and never answer, and without it the reconnect loop hangs.
    const conn = await amqp.connect(url.toString(), { timeout: CONNECT_TIMEOUT_MS, clientProperties: { connection_name: this.#opts.connectionName } });
    let resolveEnded!: (e: Error) => void;
    const ended = new Promise<Error>((r) => (resolveEnded = r));
    try {
      const ch = await conn.createChannel();
      const s: Session = {
        conn,
        ch,
        consumerTag: null,
        acks: new AckWindow(),
        burst: [],
        inFlight: 0,
        alive: true,
        draining: false,
        ackScheduled: false,
        openedAt: Date.now(),
        abort: shutdownController(),
        ended,
        end: (reason) => {
          if (!s.alive) return;
          s.alive = false;
          s.abort.abort();
          resolveEnded(reason);
          if (!s.draining) conn.close().catch(ignore);
        },
      };
      // 'error' must always have a listener (an unhandled one would crash the process); the
      // 'close' that follows every error is what ends the session.
      conn.on('error', (err: unknown) => this.#failed(err, 'RabbitMQ connection error'));
      conn.on('close', (err?: unknown) => s.end(coerceError(err ?? new Error('connection closed'))));
      conn.on('blocked', (reason: unknown) => this.#logger.warn({ reason }, 'RabbitMQ blocked this connection (resource alarm)'));
      ch.on('error', (err: unknown) => this.#failed(err, 'RabbitMQ channel error'));
      ch.on('close', () => s.end(new Error('channel closed')));
      await ch.prefetch(this.#config.prefetch);
      await declareTopology(ch, this.#topology);
      const { consumerTag } = await ch.consume(this.#config.queue, (msg) => this.#onMessage(s, msg), { noAck: false });
      s.consumerTag = consumerTag;
      return s;
    } catch (error) {
      await conn.close().catch(ignore);
      throw error;
    }
  }

  #onMessage(s: Session, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer: the queue was deleted, or its leader moved away. A new
      // session re-declares the queue and its bindings, then consumes again.
      s.end(new Error(`consumer cancelled by the broker (queue ${this.#config.queue} deleted?)`));
      return;
    }
    this.#status.received += 1;
    if (msg.fields.redelivered) this.#status.redelivered += 1;
    s.acks.track(msg.fields.deliveryTag, msg);
    s.inFlight += 1;
    // The broker hands deliveries over in bursts (up to the prefetch): what arrived in this turn
    // of the event loop is parsed and committed together, with one promise for the lot.
    if (s.burst.push(msg) === 1) setImmediate(() => this.#takeBurst(s));
  }

  /**
   * Parses at most BURST_SLICE deliveries per turn of the event loop. A socket read can hand over
   * thousands at once; parsed in one go they held the event loop for tens of milliseconds, during
   * which the ledger's writer, done with its commit, could not be handed the next batch and sat idle.
   * In slices, a commit starts with what is ready while the rest is still being parsed.
   */
  #takeBurst(s: Session): void {
    const burst = s.burst.length <= BURST_SLICE ? s.burst : s.burst.splice(0, BURST_SLICE);
    if (burst === s.burst) s.burst = [];
    else setImmediate(() => this.#takeBurst(s));
    void this.#process(s, burst).finally(() => {
      s.inFlight -= burst.length;
    });
  }

  /**
   * Stores a burst of deliveries, then marks them ackable. A failed commit (ledger down, locked,
   * full) is retried here with backoff while the deliveries stay unacked: no nack/requeue loop, so
   * no redelivery counts that a quorum queue's delivery limit could turn into a dropped message,
   * and the unacked deliveries fill the prefetch window, which stops the broker sending more
   * meanwhile. If the session ends first, the broker redelivers them to the next one.
   */
  async #process(s: Session, burst: ConsumeMessage[]): Promise<void> {
    const { refusals, events } = this.#read(burst);
    // Refusals first and on their own, and ackable as soon as they are kept: keeping input is not
    // idempotent, storing events is (the ledger drops what it has), so a poison message must not
    // wait on the events' commit and come back, to be kept twice, if that commit never lands.
    if (refusals.length > 0) {
      if (!(await this.#retrying(s, burst, () => this.#intake.refuseMany(refusals.map((r) => r.refused))))) return;
      this.#status.refused += refusals.length;
      for (const r of refusals) s.acks.settle(r.msg.fields.deliveryTag);
      this.#scheduleAck(s);
    }
    if (events.length > 0) {
      if (!(await this.#retrying(s, burst, () => this.#accept(events)))) return;
      for (const e of events) s.acks.settle(e.msg.fields.deliveryTag);
      this.#scheduleAck(s);
    }
  }

  /** Runs a write until it succeeds; false when the session ended first (nothing is acked then). */
  async #retrying(s: Session, burst: ConsumeMessage[], write: () => Promise<void>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return true;
      } catch (error) {
        if (!s.alive) return false;
        this.#status.commitRetries += 1;
        const err = coerceError(error);
        this.#status.lastError = `commit: ${err.message}`;
        this.#status.lastErrorAt = Date.now();
        if ((attempt & (attempt - 1)) === 0) this.#logger.warn({ err, attempt, deliveries: burst.length, firstDeliveryTag: burst[0]?.fields.deliveryTag }, 'could not commit RabbitMQ messages; holding them unacked and retrying');
        await delay(backoffMs(attempt, this.#opts.commitRetryBaseMs, this.#opts.commitRetryMaxMs), s.abort.signal);
        if (!s.alive) return false;
      }
    }
  }

  /** Parses and normalises a burst: what can be stored, and what is refused with its reason. */
  #read(burst: ConsumeMessage[]): { refusals: { msg: ConsumeMessage; refused: Omit<RefusedInput, 'receivedAt'> }[]; events: { msg: ConsumeMessage; n: Normalized; rawBody: string }[] } {
    const refusals: { msg: ConsumeMessage; refused: Omit<RefusedInput, 'receivedAt'> }[] = [];
    const events: { msg: ConsumeMessage; n: Normalized; rawBody: string }[] = [];
    for (const msg of burst) {
      const raw = msg.content.toString('utf8');
      const event = msg.fields.routingKey;
      // Poison is kept with its reason, then acked, so the broker never loops on it.
      if (jsonDeeperThan(raw, MAX_JSON_DEPTH)) {
        refusals.push({ msg, refused: { source: 'rabbitmq', code: 'PAYLOAD_TOO_DEEP', reason: `message body nests deeper than ${MAX_JSON_DEPTH} levels`, instance: null, event, body: raw } });
        continue;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch (error) {
        refusals.push({ msg, refused: { source: 'rabbitmq', code: 'PAYLOAD_NOT_JSON', reason: `message body is not JSON: ${jsonErrorReason(error)}`, instance: null, event, body: raw } });
        continue;
      }
      const n = normalizeEnvelope(body, { pathEvent: event });
      if (n.kind === 'refused') refusals.push({ msg, refused: { source: 'rabbitmq', code: n.code, reason: n.reason, instance: n.instance, event: n.event, body: raw } });
      else events.push({ msg, n, rawBody: raw });
    }
    return { refusals, events };
  }

  async #accept(events: { n: Normalized; rawBody: string }[]): Promise<void> {
    const results = await this.#intake.acceptMany(events, 'rabbitmq');
    for (const r of results) if (r.status === 'ignored') this.#status.ignored += 1;
  }

  /** Coalesces the acks of every commit that finished in this turn of the event loop into one frame. */
  #scheduleAck(s: Session): void {
    if (s.ackScheduled) return;
    s.ackScheduled = true;
    setImmediate(() => {
      s.ackScheduled = false;
      this.#flushAcks(s);
    });
  }

  #flushAcks(s: Session): void {
    if (!s.alive) return;
    const ackable = s.acks.takeAckable();
    if (!ackable) return;
    try {
      s.ch.ack(ackable.value, true);
      this.#status.acked += ackable.count;
    } catch (error) {
      // The channel is closing; these deliveries come back on the next session, and the ledger
      // recognises them as duplicates.
      s.end(coerceError(error));
    }
  }

  async #drainAndClose(s: Session, graceMs: number): Promise<void> {
    if (s.alive && s.consumerTag) {
      try {
        await s.ch.cancel(s.consumerTag);
      } catch (error) {
        this.#logger.warn({ err: coerceError(error) }, 'basic.cancel failed');
      }
    }
    const deadline = Date.now() + graceMs;
    while (s.alive && s.inFlight > 0 && Date.now() < deadline) await delay(10);
    if (s.inFlight > 0) this.#logger.warn({ inFlight: s.inFlight }, 'RabbitMQ deliveries still uncommitted at shutdown; the broker will redeliver them');
    this.#flushAcks(s);
    if (s.alive) {
      // channel.close-ok means the broker has processed the acks sent before it.
      s.draining = true;
      await s.ch.close().catch(ignore);
      await s.conn.close().catch(ignore);
    }
    s.end(new Error('stopped'));
  }

  #failed(error: unknown, msg: string): void {
    const err = coerceError(error);
    this.#status.lastError = err.message;
    this.#status.lastErrorAt = Date.now();
    if (!this.#stopRequested) this.#logger.warn({ err }, msg);
  }
}
