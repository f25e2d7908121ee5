import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Direction, IngestSource } from '../domain/message.js';
import type { LedgerCounts } from '../ledger/ledger.js';
import { ALERT_KINDS, ALERT_SINKS } from '../alerts/kinds.js';
import type { DeliveryOutcome, Recorders } from './recorders.js';

/** Read at scrape time only; the ledger reads must already be cached (see `cachedFor`). */
export interface ScrapeSources {
  now(): number;
  counts(): Promise<LedgerCounts>;
  oldestPendingReceivedAt(): Promise<number | null>;
  lanesInFlight(): number;
  /** False while delivery to Chatwoot is paused. */
  chatwootUp(): boolean;
  /** null when RabbitMQ ingest is not configured (the series is then absent, not 0). */
  rabbitmqUp: (() => boolean) | null;
  /** null (or absent) when EVOSYNC_REDIS_URL is unset. */
  redisUp?: (() => boolean) | null;
  databaseUp(): Promise<boolean>;
}

/** One attempt is a few HTTP requests, bounded by EVOSYNC_HTTP_TIMEOUT_MS (15 s by default). */
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];
/** Ingest → delivered spans the ordering window (0.5 s) up to outages of hours. */
const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400];
const MESSAGE_STATES = ['pending', 'delivered', 'skipped', 'dead'] as const;

/**
 * The service's metrics on a registry of its own: tests start several services in one process,
 * and prom-client's global registry refuses a metric name registered twice.
 */
export class EvosyncMetrics implements Recorders {
  readonly registry = new Registry();
  #sources: ScrapeSources | null = null;

  readonly #ingested: Counter<'source' | 'event'>;
  readonly #duplicates: Counter<'source'>;
  readonly #refused: Counter<'source' | 'code'>;
  readonly #ignored: Counter<'source'>;
  readonly #deliveries: Counter<'direction' | 'outcome'>;
  readonly #attempts: Counter<'direction'>;
  readonly #lookups: Counter<'result'>;
  readonly #duration: Histogram<'direction'>;
  readonly #latency: Histogram<'direction'>;
  readonly #reconcileRuns: Counter<'trigger' | 'result'>;
  readonly #repaired: Counter;
  readonly #instanceConnected: Gauge<'instance'>;
  readonly #alertsFired: Counter<'alert'>;
  readonly #alertsRecovered: Counter<'alert'>;
  readonly #alertsFiring: Gauge<'alert'>;
  readonly #alertSendFailures: Counter<'sink'>;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#ingested = new Counter({ name: 'evosync_ingested_total', help: 'Messages newly committed to the ledger.', labelNames: ['source', 'event'], registers });
    this.#duplicates = new Counter({ name: 'evosync_ingest_duplicates_total', help: 'Messages received again that the ledger already held (absorbed by its unique key).', labelNames: ['source'], registers });
    this.#refused = new Counter({ name: 'evosync_refused_total', help: 'Inputs refused and kept in the refused table, by error code.', labelNames: ['source', 'code'], registers });
    this.#ignored = new Counter({ name: 'evosync_ignored_total', help: 'Well-formed events evosync deliberately does not act on (unsupported event, instance not synced).', labelNames: ['source'], registers });
    this.#deliveries = new Counter({ name: 'evosync_deliveries_total', help: 'Recorded delivery outcomes: delivered, retry (counted attempt), paused (upstream fault, not counted), dead, skipped.', labelNames: ['direction', 'outcome'], registers });
    this.#attempts = new Counter({ name: 'evosync_delivery_attempts_total', help: 'Delivery attempts that reached out to the upstream.', labelNames: ['direction'], registers });
    this.#lookups = new Counter({ name: 'evosync_delivery_lookups_total', help: 'Look-ups of a possibly-sent message before re-sending it; found = it was already there.', labelNames: ['result'], registers });
    this.#duration = new Histogram({ name: 'evosync_delivery_duration_seconds', help: 'Duration of one delivery attempt.', labelNames: ['direction'], buckets: ATTEMPT_BUCKETS, registers });
    this.#latency = new Histogram({ name: 'evosync_delivery_latency_seconds', help: 'Time from ledger commit to delivered.', labelNames: ['direction'], buckets: LATENCY_BUCKETS, registers });
    this.#reconcileRuns = new Counter({ name: 'evosync_reconcile_runs_total', help: 'Reconciliation runs by trigger (schedule, reconnect, api) and result (ok, error).', labelNames: ['trigger', 'result'], registers });
    this.#repaired = new Counter({ name: 'evosync_reconcile_repaired_total', help: 'Messages reconciliation found missing from the ledger and fed into delivery.', registers });
    this.#instanceConnected = new Gauge({ name: 'evosync_instance_connected', help: '1 when the instance last reported connection state open, else 0.', labelNames: ['instance'], registers });

    this.#alertsFired = new Counter({ name: 'evosync_alerts_fired_total', help: 'Alerts raised by evosync itself, by kind (once per incident).', labelNames: ['alert'], registers });
    this.#alertsRecovered = new Counter({ name: 'evosync_alerts_recovered_total', help: 'Alerts evosync reported as recovered, by kind.', labelNames: ['alert'], registers });
    this.#alertsFiring = new Gauge({ name: 'evosync_alerts_firing', help: 'Alerts firing now, by kind.', labelNames: ['alert'], registers });
    this.#alertSendFailures = new Counter({ name: 'evosync_alert_send_failures_total', help: 'Failed attempts to send an alert to a sink (webhook, chatwoot); each is retried on the next evaluation.', labelNames: ['sink'], registers });

    // Series that exist from the start, so increase() sees the first dead message or look-up
    // (a series born at 1 has no increase to show).
    for (const outcome of ['delivered', 'retry', 'paused', 'dead', 'skipped'] as const) this.#deliveries.inc({ direction: 'to_chatwoot', outcome }, 0);
    this.#attempts.inc({ direction: 'to_chatwoot' }, 0);
    for (const result of ['found', 'not_found'] as const) this.#lookups.inc({ result }, 0);
    for (const alert of ALERT_KINDS) {
      this.#alertsFired.inc({ alert }, 0);
      this.#alertsRecovered.inc({ alert }, 0);
      this.#alertsFiring.set({ alert }, 0);
    }
    for (const sink of ALERT_SINKS) this.#alertSendFailures.inc({ sink }, 0);

    const sources = () => this.#sources;
    const messages: Gauge<'state'> = new Gauge({
      name: 'evosync_messages', help: 'Messages in the ledger by state.', labelNames: ['state'], registers,
      async collect() {
        const s = sources();
        if (!s) return;
        try {
          const c = await s.counts();
          for (const state of MESSAGE_STATES) messages.set({ state }, c[state]);
        } catch {
          // Absent rather than stale: evosync_upstream_up{upstream="database"} says why.
          messages.reset();
        }
      },
    });
    const oldest: Gauge = new Gauge({
      name: 'evosync_oldest_pending_age_seconds', help: 'Age of the oldest message still to deliver (0 when none).', registers,
      async collect() {
        const s = sources();
        if (!s) return;
        try {
          const at = await s.oldestPendingReceivedAt();
          oldest.set(at === null ? 0 : Math.max(0, (s.now() - at) / 1000));
        } catch {
          // Unknown, not 0 (which would read as "no backlog"); an unlabelled gauge cannot be absent.
          oldest.set(Number.NaN);
        }
      },
    });
    const inFlight: Gauge = new Gauge({
      name: 'evosync_lanes_in_flight', help: 'Chat lanes being delivered right now.', registers,
      collect() {
        const s = sources();
        if (s) inFlight.set(s.lanesInFlight());
      },
    });
    const up: Gauge<'upstream'> = new Gauge({
      name: 'evosync_upstream_up', help: 'Whether a dependency is usable: chatwoot (0 while delivery is paused), rabbitmq (consumer connected), database (ledger answers), redis (connected; evosync works without it, slower).', labelNames: ['upstream'], registers,
      async collect() {
        const s = sources();
        if (!s) return;
        up.set({ upstream: 'chatwoot' }, s.chatwootUp() ? 1 : 0);
        if (s.rabbitmqUp) up.set({ upstream: 'rabbitmq' }, s.rabbitmqUp() ? 1 : 0);
        if (s.redisUp) up.set({ upstream: 'redis' }, s.redisUp() ? 1 : 0);
        up.set({ upstream: 'database' }, (await s.databaseUp()) ? 1 : 0);
      },
    });

    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Connects the scrape-time gauges to the running service (its parts exist only after the registry). */
  watch(sources: ScrapeSources): void {
    this.#sources = sources;
  }

  ingested(source: IngestSource, event: string, inserted: number, duplicates: number): void {
    if (inserted > 0) this.#ingested.inc({ source, event }, inserted);
    if (duplicates > 0) this.#duplicates.inc({ source }, duplicates);
  }

  refused(source: string, code: string): void {
    this.#refused.inc({ source, code });
  }

  ignored(source: string): void {
    this.#ignored.inc({ source });
  }

  outcome(direction: Direction, outcome: DeliveryOutcome, latencyMs: number | null): void {
    this.#deliveries.inc({ direction, outcome });
    if (latencyMs !== null) this.#latency.observe({ direction }, Math.max(0, latencyMs) / 1000);
  }

  attempt(direction: Direction, durationMs: number): void {
    this.#attempts.inc({ direction });
    this.#duration.observe({ direction }, Math.max(0, durationMs) / 1000);
  }

  lookup(result: 'found' | 'not_found'): void {
    this.#lookups.inc({ result });
  }

  reconcileRun(trigger: string, result: 'ok' | 'error', repaired: number): void {
    this.#reconcileRuns.inc({ trigger, result });
    if (repaired > 0) this.#repaired.inc(repaired);
  }

  instanceState(instance: string, connected: boolean): void {
    this.#instanceConnected.set({ instance }, connected ? 1 : 0);
  }

  alertFired(alert: string): void {
    this.#alertsFired.inc({ alert });
    this.#alertsFiring.inc({ alert });
  }

  alertRecovered(alert: string): void {
    this.#alertsRecovered.inc({ alert });
    this.#alertsFiring.dec({ alert });
  }

  alertSendFailed(sink: string): void {
    this.#alertSendFailures.inc({ sink });
  }

  /** The text exposition of everything registered, and its content type. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
