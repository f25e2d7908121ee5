import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { ChatwootSink } from './alerts/chatwoot-sink.js';
import { AlertConditions, type AlertSources } from './alerts/conditions.js';
import { InstanceStates } from './alerts/instance-states.js';
import { AlertMonitor } from './alerts/monitor.js';
import type { AlertSink } from './alerts/sink.js';
import { WebhookSink } from './alerts/webhook-sink.js';
import { ChatwootApi } from './chatwoot/api.js';
import { TurnCredits } from './chatwoot/turn-credits.js';
import { ChatLinks } from './chatwoot/chat-links.js';
import { ChatwootDelivery } from './chatwoot/deliver-to-chatwoot.js';
import type { ChatwootTarget, Config } from './config/config.js';
import { targetFor } from './config/load.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { coerceError } from './errors.js';
import { EvolutionClient } from './evolution/client.js';
import { fetchEvolutionMedia } from './evolution/media-fetch.js';
import { reconcileApi } from './http/api-reconcile.js';
import { traceApi } from './http/api-trace.js';
import { metricsRoute } from './http/metrics.js';
import { buildServer } from './http/server.js';
import { AmqpConsumer } from './ingest/amqp-consumer.js';
import { Intake } from './ingest/intake.js';
import { agentDeleteHandler } from './lanes/agent-delete-handler.js';
import { chatwootHandler } from './lanes/chatwoot-handler.js';
import { isEchoOfAgentReply } from './lanes/echo.js';
import { receiptHandler } from './lanes/receipt-handler.js';
import { whatsappHandler } from './lanes/whatsapp-handler.js';
import { routeLaneItems } from './lanes/route.js';
import { waDeleteHandler } from './lanes/wa-delete-handler.js';
import { waEditHandler } from './lanes/wa-edit-handler.js';
import { Dispatcher } from './lanes/dispatcher.js';
import { UpstreamGate } from './lanes/gate.js';
import { connect } from './ledger/connect.js';
import type { Completion, CompletionResult, Ledger } from './ledger/ledger.js';
import { SqlLedger, migrateLedger } from './ledger/sql-ledger.js';
import { WorkListener } from './ledger/pg-notify.js';
import { ClusterChannel } from './live/cluster-channel.js';
import { LiveFeed } from './live/live-feed.js';
import { MessageGuard } from './redis/message-guard.js';
import { ClusterRateLimiter, LocalRateLimiter, chatwootRules } from './redis/rate-limit.js';
import { RedisLookups } from './redis/shared-lookups.js';
import { SharedRedis } from './redis/shared-redis.js';
import { type Clock, systemClock } from './lib/clock.js';
import { GroupCommitter } from './lib/group-commit.js';
import type { Logger } from './lib/logger.js';
import { cachedFor } from './metrics/cached.js';
import { EvosyncMetrics } from './metrics/registry.js';
import { Reconciler } from './reconcile/reconciler.js';

export interface EvosyncDeps {
  logger: Logger;
  clock?: Clock;
  /** Tests only: heartbeat period of the dashboard's live stream (default 15 s). */
  liveHeartbeatMs?: number;
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
  /** The alerts evosync raises itself (logged, counted, sent to the configured sinks). */
  readonly alerts: AlertMonitor;
  /** Live dashboard updates: this process's changes, and the cluster's (Redis, or the ledger poll). */
  readonly live: LiveFeed;
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
  // Redis is optional and never awaited at start: evosync works (slower) without it.
  const redis = config.redis ? new SharedRedis(config.redis, logger.child({ component: 'redis' })) : null;
  redis?.start();
  // Real time, not the injected clock: Chatwoot's windows run on the wall clock.
  const cluster = redis ? new ClusterRateLimiter(redis, owner) : null;
  const limiter = cluster ?? new LocalRateLimiter();
  cluster?.start();
  // Counting messages by state scans the table: monitoring polls may ask as often as they like,
  // the ledger is asked at most once a second, or again once the ledger is known to have changed
  // (a live update: the dashboard re-reads its counts right after it, and must not see old ones).
  let countsCache: { at: number; value: Promise<Awaited<ReturnType<Ledger['counts']>>> } | null = null;
  const ledgerCounts = () => {
    const now = clock.now();
    if (!countsCache || now - countsCache.at >= 1000) countsCache = { at: now, value: ledger.counts() };
    return countsCache.value;
  };

  // Live dashboard updates. Only PostgreSQL is shared by several processes: on SQLite this process
  // makes every change itself, so it needs neither Redis pub/sub nor the ledger poll for them.
  const sharedLedger = ledger.dialect === 'postgres';
  const liveLogger = logger.child({ component: 'live' });
  const live = new LiveFeed(config.live, {
    channel: redis && sharedLedger ? new ClusterChannel(redis, owner, liveLogger) : null,
    // What the overview shows, read for the poll (counts come from the one-second cache below).
    fingerprint: sharedLedger
      ? async () => {
          const [counts, states, runs] = await Promise.all([ledgerCounts(), ledger.instanceStates(), ledger.listReconcileRuns(null, 1)]);
          return JSON.stringify([counts, states.map((st) => [st.instance, st.state, st.updatedAt]), runs[0]?.id ?? null]);
        }
      : null,
    changed: () => {
      countsCache = null;
    },
    logger: liveLogger,
  });
  // A turn older than a second is not used: well inside the limiter's window margin (turn-credits.ts).
  const credits = new TurnCredits(1000);
  const limit = { limiter, limits: config.chatwootLimits, credits };
  const hostOf = new Map<string, string>();
  // A lane waits for its Chatwoot turn before it commits to a head (see Dispatcher's pace).
  const pace = async (lane: { instance: string }, signal: AbortSignal) => {
    const url = targetFor(config, lane.instance).url;
    let host = hostOf.get(url);
    if (host === undefined) hostOf.set(url, (host = new URL(url).host));
    const rules = chatwootRules(host, 'GET', '/', config.chatwootLimits);
    if (rules.length === 0) return { waitedMs: 0 };
    const startedAt = Date.now();
    await limiter.acquire(rules, signal);
    const takenAt = Date.now();
    // An acquire cut short by shutdown took no turn: nothing to hand on.
    if (!signal.aborted) for (const r of rules) credits.deposit(r.key, takenAt);
    return { waitedMs: takenAt - startedAt };
  };
  const apis = new Map<string, ChatwootApi>();
  const gates = new Map<string, UpstreamGate>();
  const keyOf = (t: ChatwootTarget) => `${t.url}|${t.accountId}|${t.inboxId}|${t.apiToken}`;
  const apiFor = (instance: string): ChatwootApi => {
    const target = targetFor(config, instance);
    const key = keyOf(target);
    let api = apis.get(key);
    if (!api) {
      api = new ChatwootApi(target, config.delivery.httpTimeoutMs, limit);
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
        live.statusChanged();
      };
      gates.set(api.target.url, gate);
    }
    return gate;
  };

  const links = new ChatLinks(ledger, clock, config.delivery.conversationCheckMs, config.conversation, redis ? new RedisLookups(redis) : null);
  const eventDeps = { apiFor, gateFor, ledger, policy: config.delivery, referenceWaitMs: config.delivery.referenceWaitMs, clock, logger: logger.child({ component: 'deliver' }) };
  const evolution = config.evolution.url && config.evolution.apiKey ? new EvolutionClient(config.evolution.url, config.evolution.apiKey, config.delivery.httpTimeoutMs) : null;
  const delivery = new ChatwootDelivery(links, (instance, chat) => ledger.lastDeliveredCwMessageId(instance, chat), metrics, {
    media: {
      maxBytes: config.delivery.mediaMaxBytes,
      fetch: evolution ? (instance, waId, maxBytes, signal) => fetchEvolutionMedia(evolution.http, instance, waId, maxBytes, signal) : null,
    },
    cwMessageIdOf: async (instance, waId) => (await ledger.getMessage(instance, waId))?.cwMessageId ?? null,
  });
  // PostgreSQL: several smaller completion batches side by side (each waits on round trips).
  // SQLite: one writer, so one batch at a time, as large as the moment allows (measured: two in
  // flight made more, smaller commits and cost the writer a fifth more per message). Batches never
  // reorder a lane either way: a lane has one completion outstanding at a time.
  const pgLedger = ledger.dialect === 'postgres';
  const completer = new GroupCommitter<Completion, CompletionResult>((items) => ledger.complete(items), pgLedger ? { maxBatch: 64, parallel: 4 } : { maxBatch: 256 });
  const toChatwoot = chatwootHandler({ apiFor, gateFor, delivery, policy: config.delivery, clock, logger: logger.child({ component: 'deliver' }), metrics, isEcho: (row) => isEchoOfAgentReply(ledger, row) });
  // Agent replies: a pool of their own, sized to the lanes that may send at once.
  const sender = config.evolution.url && config.evolution.apiKey ? new EvolutionClient(config.evolution.url, config.evolution.apiKey, config.delivery.httpTimeoutMs, config.delivery.concurrency) : null;
  const evolutionGate = new UpstreamGate(`evolution ${config.evolution.url ?? '(not configured)'}`, { breakerThreshold: 10, baseMs: config.delivery.retryBaseMs });
  evolutionGate.onChange = (paused, reason, until) => {
    if (paused) logger.warn({ upstream: evolutionGate.name, reason, until: new Date(until).toISOString() }, 'sending paused');
    else logger.info({ upstream: evolutionGate.name }, 'sending resumed');
    live.statusChanged();
  };
  const toWhatsApp = {
    ledger, evolution: sender, evolutionGate, apiFor, gateFor, policy: config.delivery, signature: config.agentReplies.signature,
    maxAgeMs: config.agentReplies.maxAgeMs, receiptWaitMs: config.agentReplies.receiptWaitMs, httpTimeoutMs: config.delivery.httpTimeoutMs,
    media: { allowedHosts: config.delivery.mediaAllowedHosts, maxBytes: config.delivery.mediaMaxBytes },
    clock, logger: logger.child({ component: 'send' }), metrics,
  };
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
        'to_chatwoot:messages.edited': waEditHandler(eventDeps),
        'to_chatwoot:messages.delete': waDeleteHandler(eventDeps),
        'to_chatwoot:messages.update': receiptHandler(toWhatsApp),
        'to_whatsapp:chatwoot.message_created': whatsappHandler(toWhatsApp),
        'to_whatsapp:chatwoot.message_deleted': agentDeleteHandler(toWhatsApp),
      }),
      metrics,
      activity: live.activity,
      abortInFlight: async () => {
        await Promise.all([...apis.values()].map((a) => a.http.destroy()));
        await sender?.http.destroy();
      },
      blockedUntil: (now) => {
        if (gates.size === 0) return 0;
        let earliest = Infinity;
        for (const g of [...gates.values(), evolutionGate]) earliest = Math.min(earliest, g.isOpen(now) ? now : g.pausedUntil());
        return earliest;
      },
      // With PostgreSQL's wake-ups on, an idle process looks at the ledger every 5 s only.
      idlePollMs: () => (workListener?.connected ? 5000 : 1000),
      pace,
      ...(redis ? { guard: new MessageGuard(redis, owner, config.delivery.leaseMs) } : {}),
    },
  );
  // Several processes on one PostgreSQL ledger: a commit anywhere that makes work due wakes them all.
  const workListener = ledger.dialect === 'postgres' ? new WorkListener(config.database.url, () => dispatcher.notify(), logger.child({ component: 'lanes' })) : null;

  // Ingest stays one batch at a time even on PostgreSQL: batches committed side by side could make a
  // chat's newer message visible before an older one still committing, and deliver it first.
  // One ingest batch at a time on both: parallel batches on PostgreSQL waited on each other's lane
  // locks and were slower, and SQLite has a single writer.
  const intake = new Intake(ledger, clock, logger.child({ component: 'ingest' }), { batchMax: config.ingest.batchMax, orderWindowMs: config.ingest.orderWindowMs, instances: config.instances, parallel: 1 }, metrics);
  // Waking the dispatcher makes it re-read the next due time, which covers the ordering window.
  intake.onNewWork(() => dispatcher.notify());
  const amqp = config.amqp ? new AmqpConsumer(config.amqp, intake, logger.child({ component: 'amqp' })) : null;
  const reconciler = new Reconciler(
    { ...config.reconcile, batchMax: config.ingest.batchMax, instances: config.instances },
    {
      client: evolution, ledger, intake, clock, logger: logger.child({ component: 'reconcile' }), metrics, activity: live.activity,
      agentReplies: { apiFor: (instance) => (targetFor(config, instance).inboxId > 0 ? apiFor(instance) : null), config, maxAgeMs: config.agentReplies.maxAgeMs },
    },
  );
  const instanceStates = new InstanceStates();
  intake.onCommitted((n, inserted) => {
    if (n.kind === 'messages') {
      reconciler.noteCommitted(n.instance, n.messages);
      if (inserted > 0) live.activity.note(n.instance, 'received', inserted);
    } else {
      live.activity.note(n.instance, 'connection');
      metrics.instanceState(n.instance, n.state === 'open');
      instanceStates.record(n.instance, n.state, n.statusReason, clock.now());
      if (n.state === 'open') reconciler.onConnectionOpen(n.instance);
    }
  });

  metrics.watch({
    now: () => clock.now(),
    counts: ledgerCounts,
    oldestPendingReceivedAt: cachedFor(1000, () => clock.now(), () => ledger.oldestPendingReceivedAt()),
    lanesInFlight: () => dispatcher.inFlight,
    // A gate keeps its reason from the first failure of an outage until the next success: unlike
    // isOpen(), it does not flicker to "up" between probes of an upstream that is still down.
    chatwootUp: () => [...gates.values()].every((g) => g.state.reason === null),
    rabbitmqUp: amqp ? () => amqp.state === 'connected' : null,
    redisUp: redis ? () => redis.up : null,
    databaseUp: cachedFor(1000, () => clock.now(), () => ledger.nextDueAt().then(() => true, () => false)),
  });

  const alerts = buildAlerts(config, {
    limit,
    clock,
    logger: logger.child({ component: 'alerts' }),
    metrics,
    oldestPendingReceivedAt: () => ledger.oldestPendingReceivedAt(),
    counts: ledgerCounts,
    upstreams: () => [...gates.values()].map((g) => ({ name: g.name, reason: g.state.reason })),
    instances: () => instanceStates.list(),
    reconcileRuns: () => ledger.listReconcileRuns(null, 100),
  });

  let shuttingDown = false;
  const server = buildServer({
    intake,
    ledger,
    logger,
    webhookToken: config.webhookToken,
    maxBodyBytes: config.http.maxBodyBytes,
    apiToken: config.apiToken,
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
    // Without Redis evosync still delivers (ledger look-ups, per-process rate limit): ready, degraded.
    degraded: () => {
      const problem = redis?.problem();
      return problem ? [problem] : [];
    },
    stats: async () => ({
      ledger: await ledgerCounts(),
      ingest: { ...intake.counts, batches: intake.committer.batches, items: intake.committer.items },
      ...(amqp ? { rabbitmq: amqp.status() } : {}),
      reconcile: { configured: reconciler.configured },
      delivery: { inFlight: dispatcher.inFlight, delivered: dispatcher.delivered, lookups: delivery.lookups, recovered: delivery.recovered, batches: completer.batches, items: completer.items },
      alerts: { firing: alerts.firing(), queued: alerts.queued() },
      cluster: {
        owner,
        wakeups: workListener ? { listening: workListener.connected, notifications: workListener.notifications } : null,
        redis: redis ? { up: redis.up, processes: cluster?.processes ?? null, rateLimited: cluster?.counts ?? null } : null,
        guarded: dispatcher.guarded,
        live: live.stats(),
      },
      chatwoot: { calls: chatwootCalls(), paused: [...gates.values()].filter((g) => !g.isOpen(clock.now())).map((g) => ({ name: g.name, reason: g.state.reason, until: g.pausedUntil() })) },
    }),
    chatwoot: { config, clock, notify: () => dispatcher.notify() },
    register: (app) => {
      reconcileApi(app, { reconciler, apiToken: config.apiToken, clock, defaultWindowMs: config.reconcile.windowMs });
      metricsRoute(app, { expose: () => metrics.expose(), token: config.metricsToken });
      const trace = { ledger, chatwootFor: (instance: string) => apiFor(instance), evolution: evolution?.http ?? null };
      traceApi(app, { ...trace, apiToken: config.apiToken });
      dashboardRoutes(app, {
        auth: config.dashboard, ledger, clock, logger: logger.child({ component: 'dashboard' }), counts: ledgerCounts, instances: config.instances, trace,
        reconcile: {
          configured: reconciler.configured,
          windowMs: config.reconcile.windowMs,
          // The dashboard's "reconcile now" is the API's run, over the scheduled window.
          run: (instance) => reconciler.run({ instance, fromMs: clock.now() - config.reconcile.windowMs, toMs: clock.now(), chat: null, trigger: 'api' }),
        },
        status: () => ({
          paused: [...gates.values()].filter((g) => !g.isOpen(clock.now())).map((g) => ({ name: g.name, reason: g.state.reason, until: g.pausedUntil() })),
          rabbitmq: amqp ? amqp.state : null,
        }),
        requeued: () => dispatcher.notify(),
        live: { source: live, activity: live.activity, pushMs: config.live.coalesceMs, ...(deps.liveHeartbeatMs ? { heartbeatMs: deps.liveHeartbeatMs } : {}) },
      });
    },
  });
  const chatwootCalls = () => [...apis.values()].reduce((n, a) => n + a.http.calls, 0);

  dispatcher.start();
  workListener?.start();
  amqp?.start();
  reconciler.start();
  // Listening for the other processes' changes is for dashboards; publishing ours needs no listening.
  if (config.dashboard) live.start();
  // LID lanes whose fold into the phone's lane had to wait for a lease (ledger/identities.ts).
  const identityTimer = setInterval(() => {
    ledger.mergePendingIdentities(clock.now()).catch((error: unknown) => logger.warn({ err: coerceError(error) }, 'folding LID lanes failed; will retry'));
  }, 5000);
  identityTimer.unref();
  alerts.start();

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const errors: unknown[] = [];
      const step = async (name: string, fn: () => Promise<unknown>) => {
        const started = Date.now();
        try {
          await fn();
          logger.debug({ step: name, durationMs: Date.now() - started }, 'shutdown step done');
        } catch (error) {
          errors.push(error);
          logger.error({ err: coerceError(error), step: name }, 'shutdown step failed');
        }
      };
      shuttingDown = true;
      // First: it reads the ledger and the gates, and an alert in flight is not worth waiting for.
      await step('alerts', () => alerts.stop());
      // basic.cancel first, then its in-flight deliveries commit and are acked while intake is open.
      if (amqp) await step('rabbitmq', () => amqp.stop(config.shutdownGraceMs));
      // Before HTTP (an API call waits for its run) and intake (a stopping run commits what it found).
      clearInterval(identityTimer);
      await step('reconcile', () => reconciler.stop());
      // Idle keep-alive sockets are closed at once; a client that keeps one busy past the grace
      // (a webhook sender stuck mid-request) is cut then, so shutdown never hangs on a peer.
      await step('http', () => closeWithin(server, config.shutdownGraceMs));
      await step('ingest', () => intake.close());
      await step('dispatcher', () => dispatcher.stop());
      // After the last deliveries: their changes still reach the other processes' dashboards.
      await step('live updates', () => live.stop());
      await step('chatwoot', () => Promise.all([...apis.values()].map((a) => a.close())));
      if (evolution) await step('evolution', () => evolution.close());
      if (sender) await step('evolution sender', () => sender.close());
      if (workListener) await step('wake-ups', () => workListener.stop());
      if (cluster) await step('rate limiter', () => cluster.leave());
      if (redis) await step('redis', () => redis.close());
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
    alerts,
    live,
    chatwootCalls,
    async listen() {
      return server.listen({ host: config.http.host, port: config.http.port });
    },
    stop,
  };
}

/**
 * The alert monitor and its sinks. The Chatwoot sink has a client of its own (its own pool): alert
 * notes never wait behind deliveries, nor count in their calls-per-message figure.
 */
function buildAlerts(config: Config, deps: { clock: Clock; logger: Logger; metrics: EvosyncMetrics; limit: ConstructorParameters<typeof ChatwootApi>[2] } & AlertSources): AlertMonitor {
  const sendTimeoutMs = Math.min(config.delivery.httpTimeoutMs, 10_000);
  const sinks: AlertSink[] = [];
  if (config.alerts.webhookUrl) sinks.push(new WebhookSink(config.alerts.webhookUrl, hostname()));
  const target = config.chatwoot.url ? config.chatwoot : Object.values(config.targets)[0];
  if (config.alerts.chatwoot && target) sinks.push(new ChatwootSink(new ChatwootApi(target, sendTimeoutMs, deps.limit)));
  const conditions = new AlertConditions(deps, config.alerts);
  return new AlertMonitor({ intervalMs: config.alerts.intervalMs, sendTimeoutMs }, { conditions, sinks, clock: deps.clock, logger: deps.logger, metrics: deps.metrics });
}

async function closeWithin(server: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => server.server.closeAllConnections(), graceMs);
  timer.unref();
  try {
    await server.close();
  } finally {
    clearTimeout(timer);
  }
}
