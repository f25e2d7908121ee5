import { coerceError, IllegalStateError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { AlertRecorder } from '../metrics/recorders.js';
import type { AlertConditions } from './conditions.js';
import { alertText } from './format.js';
import type { AlertEvent, AlertKind } from './kinds.js';
import type { AlertSink } from './sink.js';
import { AlertTracker } from './tracker.js';

export interface AlertMonitorOptions {
  intervalMs: number;
  /** Longest wait for one sink to take one alert. */
  sendTimeoutMs: number;
  /** Alerts kept per sink while it fails; beyond this the oldest are dropped (and logged). */
  maxQueued?: number;
}

export interface AlertMonitorDeps {
  conditions: AlertConditions;
  sinks: readonly AlertSink[];
  clock: Clock;
  logger: Logger;
  metrics: AlertRecorder;
}

/**
 * Evaluates the alert conditions on an interval and sends each transition (fired, recovered) to
 * every sink. It runs beside delivery and shares nothing with it but reads: a tick that throws is
 * logged, a sink that fails keeps its alerts queued for the next tick, and a slow sink delays only
 * its own queue. Every alert is also logged, so with no sink configured it still reaches operators.
 */
export class AlertMonitor {
  readonly #opts: AlertMonitorOptions;
  readonly #deps: AlertMonitorDeps;
  readonly #tracker = new AlertTracker();
  readonly #queues = new Map<AlertSink, AlertEvent[]>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #state: 'created' | 'running' | 'stopped' = 'created';
  #stopping: Promise<void> | null = null;

  constructor(opts: AlertMonitorOptions, deps: AlertMonitorDeps) {
    this.#opts = opts;
    this.#deps = deps;
    for (const sink of deps.sinks) this.#queues.set(sink, []);
  }

  start(): void {
    if (this.#state !== 'created') throw new IllegalStateError(`alert monitor cannot start from ${this.#state}`);
    this.#state = 'running';
    this.#timer = setInterval(() => void this.tick(), this.#opts.intervalMs);
    this.#timer.unref();
    // The first evaluation takes the baselines (dead messages already there are not new).
    void this.tick();
  }

  /** Alerts firing now. */
  firing(): ReturnType<AlertTracker['firing']> {
    return this.#tracker.firing();
  }

  /** Alerts waiting to be sent, per sink. */
  queued(): Record<string, number> {
    return Object.fromEntries([...this.#queues].map(([sink, q]) => [sink.name, q.length]));
  }

  /** One evaluation and one round of sends; overlapping calls share the one in progress. */
  tick(): Promise<void> {
    if (this.#state !== 'running') return Promise.resolve();
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#state = 'stopped';
      if (this.#timer) clearInterval(this.#timer);
      this.#abort.abort();
      await Promise.allSettled(this.#deps.sinks.map((s) => s.close()));
      await this.#ticking;
      const unsent = [...this.#queues.values()].reduce((n, q) => n + q.length, 0);
      if (unsent > 0) this.#deps.logger.warn({ unsent }, 'stopping with alerts not yet sent');
    })();
    return this.#stopping;
  }

  async #tick(): Promise<void> {
    const { logger } = this.#deps;
    try {
      const now = this.#deps.clock.now();
      const evaluation = await this.#deps.conditions.evaluate(now);
      for (const e of evaluation.errors) logger.debug({ err: coerceError(e.error), alert: e.kind }, 'alert condition could not be read; its alerts keep their state');
      for (const event of this.#tracker.observe(evaluation.observations, now, evaluation.unknown as ReadonlySet<AlertKind>)) this.#raise(event);
    } catch (error) {
      logger.error({ err: coerceError(error) }, 'alert evaluation failed');
    }
    await Promise.all([...this.#queues].map(([sink, queue]) => this.#flush(sink, queue)));
  }

  #raise(event: AlertEvent): void {
    const { logger, metrics } = this.#deps;
    const fields = { alert: event.kind, key: event.key, status: event.status, details: event.details };
    if (event.status === 'firing') {
      metrics.alertFired(event.kind);
      logger.warn(fields, alertText(event));
    } else {
      metrics.alertRecovered(event.kind);
      logger.info({ ...fields, durationMs: event.at - event.startedAt }, alertText(event));
    }
    const max = this.#opts.maxQueued ?? 100;
    for (const [sink, queue] of this.#queues) {
      queue.push(event);
      if (queue.length > max) {
        const dropped = queue.splice(0, queue.length - max);
        logger.warn({ sink: sink.name, dropped: dropped.length }, 'alert queue full; oldest alerts dropped');
      }
    }
  }

  /** Sends in order and stops at the first failure, so a recovery never arrives before its firing. */
  async #flush(sink: AlertSink, queue: AlertEvent[]): Promise<void> {
    while (queue.length > 0 && !this.#abort.signal.aborted) {
      const event = queue[0]!;
      try {
        await sink.send(event, AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#opts.sendTimeoutMs)]));
        queue.shift();
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#deps.metrics.alertSendFailed(sink.name);
        this.#deps.logger.warn({ err: coerceError(error), sink: sink.name, alert: event.kind, key: event.key, queued: queue.length }, 'sending an alert failed; retrying on the next evaluation');
        return;
      }
    }
  }
}
