import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { ChatwootApi } from './chatwoot/api.js';
import { ChatLinks } from './chatwoot/chat-links.js';
import { ChatwootDelivery } from './chatwoot/deliver-to-chatwoot.js';
import type { ChatwootTarget, Config } from './config/config.js';
import { targetFor } from './config/load.js';
import { coerceError } from './errors.js';
import { EvolutionClient } from './evolution/client.js';
import { reconcileApi } from './http/api-reconcile.js';
import { metricsRoute } from './http/metrics.js';
import { buildServer } from './http/server.js';
import { AmqpConsumer } from './ingest/amqp-consumer.js';
import { Intake } from './ingest/intake.js';
import { chatwootHandler } from './lanes/chatwoot-handler.js';
import { routeLaneItems } from './lanes/route.js';
import { Dispatcher } from './lanes/dispatcher.js';
import { UpstreamGate } from './lanes/gate.js';
import { connect } from './ledger/connect.js';
import type { Completion, CompletionResult, Ledger } from './ledger/ledger.js';
import { SqlLedger, migrateLedger } from './ledger/sql-ledger.js';
import { type Clock, systemClock } from './lib/clock.js';
import { GroupCommitter } from './lib/group-commit.js';
import type { Logger } from './lib/logger.js';
import { cachedFor } from './metrics/cached.js';
import { EvosyncMetrics } from './metrics/registry.js';
import { Reconciler } from './reconcile/reconciler.js';

export interface EvosyncDeps {
  logger: Logger;
  clock?: Clock;
}

export interface Evosync {
  readonly config: Config;
  readonly ledger: Ledger;
  readonly server: FastifyInstance;
  readonly intake: Intake;
  readonly dispatcher: Dispatcher;
  /** RabbitMQ ingest; null when EVOSYNC_AMQP_URL is unset. */
  readonly amqp: AmqpConsumer | null;
  /** Reconciliation against Evolution's store; its triggers are off without EVOLUTION_URL/API_KEY. */
  readonly reconciler: Reconciler;
  /** This instance's Prometheus registry (also served at GET /metrics). */
  readonly metrics: EvosyncMetrics;
  /** Chatwoot calls made so far (all targets), for the calls-per-message figure. */
  chatwootCalls(): number;
  /** Binds the HTTP port (0 = any free port) and returns the address. */
  listen(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The composition root: the only place that knows every concrete part and wires them together.
 * Start order: ledger (migrated) → dispatcher → HTTP. Stop order is the reverse of intake:
 * refuse new input → finish or release in-flight deliveries → flush writes → close the ledger.
 */
export async function createEvosync(config: Config, deps: EvosyncDeps): Promise<Evosync> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

  const conn = await connect(config.database.url, { exclusive: true });
  let ledger: SqlLedger;
  try {
    const applied = await migrateLedger(conn);
    if (applied.length > 0) logger.info({ applied }, 'ledger migrated');
    ledger = new SqlLedger(conn);
    if (conn.dialect === 'sqlite') {
      // One process per SQLite file (the lock guarantees it): any lease in the file belongs to a
      // previous life of this service that was killed. Its lanes' heads may have been sent.
      const n = await ledger.reapExpiredLeases(Number.MAX_SAFE_INTEGER);
      if (n > 0) logger.warn({ lanes: n }, 'recovered lanes from a previous run that did not shut down cleanly');
    }
  } catch (error) {
    await conn.close();
    throw error;
  }

  const metrics = new EvosyncMetrics();
  const apis = new Map<string, ChatwootApi>();
  const gates = new Map<string, UpstreamGate>();
  const keyOf = (t: ChatwootTarget) => `${t.url}|${t.accountId}|${t.inboxId}|${t.apiToken}`;
  const apiFor = (instance: string): ChatwootApi => {
    const target = targetFor(config, instance);
    const key = keyOf(target);
    let api = apis.get(key);
    if (!api) {
      api = new ChatwootApi(target, config.delivery.httpTimeoutMs);
      apis.set(key, api);
    }
    return api;
  };
  const gateFor = (api: ChatwootApi): UpstreamGate => {
    let gate = gates.get(api.target.url);
    if (!gate) {
      gate = new UpstreamGate(`chatwoot ${api.target.url}`, { breakerThreshold: 10, baseMs: config.delivery.retryBaseMs });
      gate.onChange = (paused, reason, until) => {
        if (paused) logger.warn({ upstream: gate?.name, reason, until: new Date(until).toISOString() }, 'delivery paused');
        else logger.info({ upstream: gate?.name }, 'delivery resumed');
      };
      gates.set(api.target.url, gate);
    }
    return gate;
  };

  const links = new ChatLinks(ledger, clock, config.delivery.conversationCheckMs);
  const delivery = new ChatwootDelivery(links, (instance, chat) => ledger.lastDeliveredCwMessageId(instance, chat), metrics);
  // PostgreSQL: several smaller completion batches side by side (each waits on round trips);
  // SQLite: one writer, so one batch at a time, as large as the moment allows.
  const pgLedger = ledger.dialect === 'postgres';
  const completer = new GroupCommitter<Completion, CompletionResult>((items) => ledger.complete(items), pgLedger ? { maxBatch: 64, parallel: 4 } : { maxBatch: 256 });
  const toChatwoot = chatwootHandler({ apiFor, gateFor, delivery, policy: config.delivery, clock, logger: logger.child({ component: 'deliver' }), metrics });
  const dispatcher = new Dispatcher(
    {
      owner,
      concurrency: config.delivery.concurrency,
      leaseMs: config.delivery.leaseMs,
      deadPolicy: config.delivery.deadPolicy,
      pollMs: 1000,
      graceMs: config.shutdownGraceMs,
      retryBaseMs: config.delivery.retryBaseMs,
    },
    {
      ledger,
      completer,
      clock,
      logger: logger.child({ component: 'lanes' }),
      handle: routeLaneItems({
        'to_chatwoot:messages.upsert': toChatwoot,
        'to_chatwoot:send.message': toChatwoot,
      }),
      metrics,
      abortInFlight: async () => {
        await Promise.all([...apis.values()].map((a) => a.http.destroy()));
      },
      blockedUntil: (now) => {
        if (gates.size === 0) return 0;
        let earliest = Infinity;
        for (const g of gates.values()) earliest = Math.min(earliest, g.isOpen(now) ? now : g.pausedUntil());
        return earliest;
      },
    },
  );

  // Ingest stays one batch at a time even on PostgreSQL: batches committed side by side could make a
  // chat's newer message visible before an older one still committing, and deliver it first.
  const intake = new Intake(ledger, clock, logger.child({ component: 'ingest' }), { batchMax: config.ingest.batchMax, orderWindowMs: config.ingest.orderWindowMs, instances: config.instances }, metrics);
  // Waking the dispatcher makes it re-read the next due time, which covers the ordering window.
  intake.onNewWork(() => dispatcher.notify());
  const amqp = config.amqp ? new AmqpConsumer(config.amqp, intake, logger.child({ component: 'amqp' })) : null;
  const evolution = config.evolution.url && config.evolution.apiKey ? new EvolutionClient(config.evolution.url, config.evolution.apiKey, config.delivery.httpTimeoutMs) : null;
  const reconciler = new Reconciler(
    { ...config.reconcile, batchMax: config.ingest.batchMax, instances: config.instances },
    { client: evolution, ledger, intake, clock, logger: logger.child({ component: 'reconcile' }), metrics },
  );
  intake.onCommitted((n) => {
    if (n.kind === 'messages') {
      if (n.messages.length > 0) reconciler.noteMessages(n.instance, Math.max(...n.messages.map((m) => m.timestamp)));
    } else {
      metrics.instanceState(n.instance, n.state === 'open');
      if (n.state === 'open') reconciler.onConnectionOpen(n.instance);
    }
  });

  // Counting messages by state scans the table: monitoring polls may ask as often as they like,
  // the ledger is asked at most once a second.
  let countsCache: { at: number; value: Promise<Awaited<ReturnType<Ledger['counts']>>> } | null = null;
  const ledgerCounts = () => {
    const now = clock.now();
    if (!countsCache || now - countsCache.at >= 1000) countsCache = { at: now, value: ledger.counts() };
    return countsCache.value;
  };
  metrics.watch({
    now: () => clock.now(),
    counts: ledgerCounts,
    oldestPendingReceivedAt: cachedFor(1000, () => clock.now(), () => ledger.oldestPendingReceivedAt()),
    lanesInFlight: () => dispatcher.inFlight,
    // A gate keeps its reason from the first failure of an outage until the next success: unlike
    // isOpen(), it does not flicker to "up" between probes of an upstream that is still down.
    chatwootUp: () => [...gates.values()].every((g) => g.state.reason === null),
    rabbitmqUp: amqp ? () => amqp.state === 'connected' : null,
    databaseUp: cachedFor(1000, () => clock.now(), () => ledger.nextDueAt().then(() => true, () => false)),
  });

  let shuttingDown = false;
  const server = buildServer({
    intake,
    ledger,
    logger,
    webhookToken: config.webhookToken,
    maxBodyBytes: config.http.maxBodyBytes,
    isShuttingDown: () => shuttingDown,
    readiness: async () => {
      if (amqp && amqp.state !== 'connected') {
        const st = amqp.status();
        return `rabbitmq: ${st.state}${st.lastError ? ` (${st.lastError})` : ''}`;
      }
      try {
        await ledger.nextDueAt();
        return null;
      } catch (error) {
        return `ledger: ${coerceError(error).message}`;
      }
    },
    stats: async () => ({
      ledger: await ledgerCounts(),
      ingest: { ...intake.counts, batches: intake.committer.batches, items: intake.committer.items },
      ...(amqp ? { rabbitmq: amqp.status() } : {}),
      reconcile: { configured: reconciler.configured },
      delivery: { inFlight: dispatcher.inFlight, delivered: dispatcher.delivered, lookups: delivery.lookups, recovered: delivery.recovered },
      chatwoot: { calls: chatwootCalls(), paused: [...gates.values()].filter((g) => !g.isOpen(clock.now())).map((g) => ({ name: g.name, reason: g.state.reason, until: g.pausedUntil() })) },
    }),
    register: (app) => {
      reconcileApi(app, { reconciler, apiToken: config.apiToken, clock, defaultWindowMs: config.reconcile.windowMs });
      metricsRoute(app, metrics);
    },
  });
  const chatwootCalls = () => [...apis.values()].reduce((n, a) => n + a.http.calls, 0);

  dispatcher.start();
  amqp?.start();
  reconciler.start();

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const errors: unknown[] = [];
      const step = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (error) {
          errors.push(error);
          logger.error({ err: coerceError(error), step: name }, 'shutdown step failed');
        }
      };
      shuttingDown = true;
      // basic.cancel first, then its in-flight deliveries commit and are acked while intake is open.
      if (amqp) await step('rabbitmq', () => amqp.stop(config.shutdownGraceMs));
      // Before HTTP (an API call waits for its run) and intake (a stopping run commits what it found).
      await step('reconcile', () => reconciler.stop());
      await step('http', () => server.close());
      await step('ingest', () => intake.close());
      await step('dispatcher', () => dispatcher.stop());
      await step('chatwoot', () => Promise.all([...apis.values()].map((a) => a.close())));
      if (evolution) await step('evolution', () => evolution.close());
      await step('ledger', () => ledger.close());
      if (errors.length > 0) throw new AggregateError(errors, 'shutdown finished with errors');
    })();
    return stopping;
  };

  return {
    config,
    ledger,
    server,
    intake,
    dispatcher,
    amqp,
    reconciler,
    metrics,
    chatwootCalls,
    async listen() {
      return server.listen({ host: config.http.host, port: config.http.port });
    },
    stop,
  };
}
