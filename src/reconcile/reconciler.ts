import type { ChatwootApi } from '../chatwoot/api.js';
import type { Config } from '../config/config.js';
import type { EvolutionClient } from '../evolution/client.js';
import type { Intake } from '../ingest/intake.js';
import type { Ledger, ReconcileRun } from '../ledger/ledger.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { ActivitySink } from '../live/changes.js';
import type { ReconcileRecorder } from '../metrics/recorders.js';
import { isChatMessage, type LaneItemBase } from '../domain/lane-item.js';
import { coerceError } from '../errors.js';
import { NOT_CONFIGURED_MESSAGE, ReconcileError } from './errors.js';
import { reconcile } from './run.js';
import type { ReconcileRequest } from './wa-to-chatwoot.js';

export interface ReconcilerOptions {
  /** 0 = no schedule. */
  intervalMs: number;
  /** Look-back of a scheduled run. */
  windowMs: number;
  /** Longest look-back of a reconnect-triggered run. */
  maxWindowMs: number;
  pageSize: number;
  batchMax: number;
  /** Instances to reconcile on schedule; null = every instance Evolution lists. */
  instances: readonly string[] | null;
}

export interface ReconcilerDeps {
  /** null when EVOLUTION_URL / EVOLUTION_API_KEY are unset: every trigger is then off. */
  client: EvolutionClient | null;
  ledger: Ledger;
  intake: Intake;
  clock: Clock;
  logger: Logger;
  metrics?: ReconcileRecorder;
  /** Told of every finished run (the dashboard lists them). */
  activity?: ActivitySink;
  /**
   * Chatwoot → WhatsApp: the Chatwoot API of an instance's target (null when it has none), the
   * config (which instance and chat a conversation belongs to) and EVOSYNC_AGENT_REPLY_MAX_AGE_MS.
   * Absent: runs compare WhatsApp → Chatwoot only.
   */
  agentReplies?: { apiFor(instance: string): ChatwootApi | null; config: Config; maxAgeMs: number };
}

/** WhatsApp timestamps of one device can trail another's by a little: look back a bit further. */
const RECONNECT_SLACK_MS = 60_000;

/**
 * Runs reconciliation on its three triggers (schedule, reconnect, on demand) and makes sure two
 * runs never overlap for one instance. The guard is in-process: enough for one service, and a
 * second process (another node, or `evosync reconcile` beside a PostgreSQL-backed service) can only
 * repeat work — the ledger's unique key makes a doubly-found message a duplicate, not a second copy.
 */
export class Reconciler {
  readonly #opts: ReconcilerOptions;
  readonly #deps: ReconcilerDeps;
  readonly #running = new Map<string, Promise<ReconcileRun>>();
  /** Newest WhatsApp time (ms) seen per instance since start: where a reconnect's gap begins. */
  readonly #lastEventAt = new Map<string, number>();
  /** Instances with a reconnect waiting for the run in progress to end (one wait is enough). */
  readonly #waitingReconnect = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #stopping = false;

  constructor(opts: ReconcilerOptions, deps: ReconcilerDeps) {
    this.#opts = opts;
    this.#deps = deps;
  }

  get configured(): boolean {
    return this.#deps.client !== null;
  }

  isRunning(instance: string): boolean {
    return this.#running.has(instance);
  }

  /** One run now; refuses (RECONCILE_BUSY) when one is already going for the instance. */
  run(req: ReconcileRequest): Promise<ReconcileRun> {
    const client = this.#deps.client;
    if (!client) return Promise.reject(new ReconcileError('RECONCILE_NOT_CONFIGURED', NOT_CONFIGURED_MESSAGE));
    if (this.#stopping) return Promise.reject(new ReconcileError('RECONCILE_STOPPED', 'evosync is shutting down'));
    if (this.#running.has(req.instance)) return Promise.reject(new ReconcileError('RECONCILE_BUSY', `a reconcile run for instance ${req.instance} is already in progress`));
    const a = this.#deps.agentReplies;
    const api = a?.apiFor(req.instance) ?? null;
    const p = reconcile(
      {
        client, ledger: this.#deps.ledger, intake: this.#deps.intake, clock: this.#deps.clock, logger: this.#deps.logger, pageSize: this.#opts.pageSize, batchMax: this.#opts.batchMax, shouldStop: () => this.#stopping,
        agentReplies: a && api ? { api, config: a.config, maxAgeMs: a.maxAgeMs } : null,
      },
      req,
    )
      .then(
        (run) => {
          this.#deps.metrics?.reconcileRun(req.trigger, run.error ? 'error' : 'ok', run.repaired + run.agentRepaired);
          this.#deps.activity?.note(req.instance, 'reconcile');
          return run;
        },
        (error: unknown) => {
          this.#deps.metrics?.reconcileRun(req.trigger, 'error', 0);
          this.#deps.activity?.note(req.instance, 'reconcile');
          throw error;
        },
      )
      .finally(() => this.#running.delete(req.instance));
    this.#running.set(req.instance, p);
    return p;
  }

  runs(instance: string | null, limit: number): Promise<(ReconcileRun & { id: number })[]> {
    return this.#deps.ledger.listReconcileRuns(instance, limit);
  }

  /**
   * Called for every committed batch of lane items: remembers how far each instance got on
   * WhatsApp's clock. Only WhatsApp messages count: receipts, edits and deletes are placed at the
   * time evosync received them (see normalize-events.ts, receipts.ts), and one of those arriving
   * just before a disconnect would move the reconnect window's start past messages WhatsApp sent
   * earlier but Evolution never published.
   */
  noteCommitted(instance: string, items: readonly LaneItemBase[]): void {
    let newest = 0;
    for (const item of items) if (isChatMessage(item) && item.timestamp > newest) newest = item.timestamp;
    const ms = newest * 1000;
    if (ms > (this.#lastEventAt.get(instance) ?? 0)) this.#lastEventAt.set(instance, ms);
  }

  /**
   * `connection.update` → `open`: Evolution reconnected, and what WhatsApp delivered around the gap
   * may never have been published (history arrives as MESSAGES_SET, not upserts). Reconciles from
   * the instance's last known event (else its last run, else the cap), never further back than the cap.
   * The same window covers the agent replies written meanwhile (their webhooks may have failed too).
   */
  onConnectionOpen(instance: string): void {
    if (!this.#deps.client || this.#stopping) return;
    void (async () => {
      const running = this.#running.get(instance);
      if (running) {
        // The run in progress read (or is reading) a window that ended before this reconnect: the
        // gap is reconciled right after it, not left to the next scheduled round.
        if (this.#waitingReconnect.has(instance)) return;
        this.#waitingReconnect.add(instance);
        this.#deps.logger.info({ instance }, 'reconnect: a reconcile run is in progress; reconciling the gap once it ends');
        try {
          await running.catch(() => {});
        } finally {
          this.#waitingReconnect.delete(instance);
        }
        if (this.#stopping || this.#running.has(instance)) return;
      }
      const now = this.#deps.clock.now();
      let since = this.#lastEventAt.get(instance) ?? null;
      if (since === null) since = (await this.#deps.ledger.listReconcileRuns(instance, 1))[0]?.windowTo ?? null;
      const fromMs = Math.max(now - this.#opts.maxWindowMs, (since ?? 0) - RECONNECT_SLACK_MS);
      if (this.#running.has(instance)) return;
      await this.run({ instance, fromMs, toMs: now, chat: null, trigger: 'reconnect' });
    })().catch((error: unknown) => this.#deps.logger.warn({ err: coerceError(error), instance }, 'reconnect reconcile failed'));
  }

  start(): void {
    if (!this.#deps.client || this.#opts.intervalMs === 0 || this.#timer) return;
    const tick = () => {
      this.#timer = null;
      void this.#scheduledRound().finally(() => {
        if (!this.#stopping) this.#arm(tick);
      });
    };
    this.#arm(tick);
  }

  #arm(tick: () => void): void {
    this.#timer = setTimeout(tick, this.#opts.intervalMs);
    this.#timer.unref();
  }

  async #scheduledRound(): Promise<void> {
    const client = this.#deps.client;
    if (!client) return;
    let instances = this.#opts.instances;
    if (!instances) {
      const listed = await client.instanceNames();
      if (!listed.ok) {
        this.#deps.logger.warn({ failure: listed.failure.message }, 'scheduled reconcile: cannot list Evolution instances');
        return;
      }
      instances = listed.value;
    }
    for (const instance of instances) {
      if (this.#stopping) return;
      if (this.#running.has(instance)) continue;
      const now = this.#deps.clock.now();
      try {
        await this.run({ instance, fromMs: now - this.#opts.windowMs, toMs: now, chat: null, trigger: 'schedule' });
      } catch (error) {
        this.#deps.logger.warn({ err: coerceError(error), instance }, 'scheduled reconcile failed');
      }
    }
  }

  /** Stops the schedule and lets running runs end at their next page (they commit what they found). */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#running.values()]);
  }
}
