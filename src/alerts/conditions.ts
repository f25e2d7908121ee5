import type { ReconcileRun } from '../ledger/ledger.js';
import { formatDuration } from './format.js';
import type { InstanceState } from './instance-states.js';
import type { AlertKind, Observation } from './kinds.js';

/** Where the conditions are read from; every read is cheap or cached by the caller. */
export interface AlertSources {
  oldestPendingReceivedAt(): Promise<number | null>;
  counts(): Promise<{ pending: number; dead: number }>;
  /** Each upstream delivery gate: `reason` is null while it is not paused. */
  upstreams(): readonly { name: string; reason: string | null }[];
  instances(): readonly InstanceState[];
  /** Recent reconcile runs, newest first. */
  reconcileRuns(): Promise<readonly ReconcileRun[]>;
}

export interface ConditionOptions {
  /** 0 = no backlog alert. */
  backlogAgeMs: number;
  afterMs: number;
  deadQuietMs: number;
}

export interface Evaluation {
  observations: Observation[];
  /** Kinds whose source could not be read this time: their alerts keep their state. */
  unknown: Set<AlertKind>;
  /** Why each unknown kind could not be read. */
  errors: { kind: AlertKind; error: unknown }[];
}

/**
 * Turns what the service knows into one observation per alert key. Only the dead-message count
 * needs memory (a count is not an incident; its growth is), so it lives here and nowhere else.
 */
export class AlertConditions {
  readonly #sources: AlertSources;
  readonly #opts: ConditionOptions;
  /** null until the first read: dead messages from before the start are not new. */
  #dead: { count: number; lastIncreaseAt: number | null; newInIncident: number } | null = null;

  constructor(sources: AlertSources, opts: ConditionOptions) {
    this.#sources = sources;
    this.#opts = opts;
  }

  async evaluate(now: number): Promise<Evaluation> {
    const out: Evaluation = { observations: [], unknown: new Set(), errors: [] };
    const guard = async (kinds: AlertKind[], fn: () => Promise<void> | void) => {
      try {
        await fn();
      } catch (error) {
        for (const kind of kinds) {
          out.unknown.add(kind);
          out.errors.push({ kind, error });
        }
      }
    };
    await guard(['backlog', 'dead_messages'], async () => {
      const [oldest, counts] = await Promise.all([this.#sources.oldestPendingReceivedAt(), this.#sources.counts()]);
      if (this.#opts.backlogAgeMs > 0) out.observations.push(this.#backlog(oldest, counts.pending, now));
      out.observations.push(this.#deadMessages(counts.dead, now));
    });
    await guard(['delivery_paused'], () => {
      for (const u of this.#sources.upstreams()) out.observations.push(paused(u.name, u.reason, this.#opts.afterMs));
    });
    await guard(['instance_disconnected'], () => {
      for (const i of this.#sources.instances()) out.observations.push(disconnected(i, this.#opts.afterMs));
    });
    await guard(['reconcile_repaired'], async () => {
      const latest = new Map<string, ReconcileRun>();
      for (const run of await this.#sources.reconcileRuns()) if (!latest.has(run.instance)) latest.set(run.instance, run);
      for (const run of latest.values()) out.observations.push(repaired(run));
    });
    return out;
  }

  #backlog(oldest: number | null, pending: number, now: number): Observation {
    const ageMs = oldest === null ? 0 : Math.max(0, now - oldest);
    const threshold = this.#opts.backlogAgeMs;
    const active = ageMs > threshold;
    return {
      key: 'backlog',
      kind: 'backlog',
      active,
      forMs: 0,
      summary: active
        ? `the oldest message waiting for delivery is ${formatDuration(ageMs)} old (threshold ${formatDuration(threshold)}); ${pending} message(s) waiting`
        : `the oldest message waiting for delivery is within ${formatDuration(threshold)} again; ${pending} message(s) waiting`,
      details: { oldestPendingAgeMs: ageMs, thresholdMs: threshold, pending },
    };
  }

  #deadMessages(count: number, now: number): Observation {
    if (this.#dead === null) this.#dead = { count, lastIncreaseAt: null, newInIncident: 0 };
    const d = this.#dead;
    if (count > d.count) {
      d.newInIncident += count - d.count;
      d.lastIncreaseAt = now;
    }
    // Fewer dead messages than before: an operator retried some; new deaths count from here.
    d.count = count;
    const active = d.lastIncreaseAt !== null && now - d.lastIncreaseAt < this.#opts.deadQuietMs;
    const observation: Observation = {
      key: 'dead_messages',
      kind: 'dead_messages',
      active,
      forMs: 0,
      summary: active
        ? `${d.newInIncident} message(s) went dead (${count} dead in the ledger); their last_error says why, and they can be retried once fixed`
        : `no message has gone dead for ${formatDuration(this.#opts.deadQuietMs)}; ${count} dead in the ledger`,
      details: { newDead: d.newInIncident, dead: count },
    };
    if (!active) {
      d.newInIncident = 0;
      d.lastIncreaseAt = null;
    }
    return observation;
  }
}

function paused(rawName: string, reason: string | null, afterMs: number): Observation {
  // Gate names carry the upstream URL: no credential that might sit in it goes into an alert.
  const name = rawName.replace(/\/\/[^/@\s]*@/, '//');
  // A proxy's error page can be long; an alert needs its gist.
  const shown = reason !== null && reason.length > 300 ? `${reason.slice(0, 300)}…` : reason;
  return {
    key: `delivery_paused:${name}`,
    kind: 'delivery_paused',
    active: shown !== null,
    forMs: afterMs,
    summary: shown !== null ? `delivery to ${name} is paused: ${shown}; messages are kept and wait` : `delivery to ${name} resumed`,
    details: { upstream: name, reason: shown },
  };
}

function disconnected(i: InstanceState, afterMs: number): Observation {
  const active = i.state !== 'open';
  const why = i.statusReason !== null ? ` (status ${i.statusReason})` : '';
  return {
    key: `instance_disconnected:${i.instance}`,
    kind: 'instance_disconnected',
    active,
    forMs: afterMs,
    summary: active
      ? `WhatsApp instance ${i.instance} is ${i.state}${why}; its messages reach evosync only once it reconnects (then a reconcile fills the gap)`
      : `WhatsApp instance ${i.instance} is connected again`,
    details: { instance: i.instance, state: i.state, statusReason: i.statusReason, since: new Date(i.at).toISOString() },
  };
}

function repaired(run: ReconcileRun): Observation {
  const active = run.repaired + run.agentRepaired > 0;
  return {
    key: `reconcile_repaired:${run.instance}`,
    kind: 'reconcile_repaired',
    active,
    forMs: 0,
    summary: active
      ? `a reconcile of instance ${run.instance} (${run.trigger}) found ${run.repaired} WhatsApp message(s) and ${run.agentRepaired} agent reply message(s) the live path had lost and fed them into delivery; check the webhook or RabbitMQ path, and Chatwoot's webhook to evosync`
      : `the latest reconcile of instance ${run.instance} (${run.trigger}) found nothing missing`,
    details: { instance: run.instance, trigger: run.trigger, repaired: run.repaired, compared: run.compared, agentRepaired: run.agentRepaired, agentCompared: run.agentCompared, windowFrom: new Date(run.windowFrom).toISOString(), windowTo: new Date(run.windowTo).toISOString() },
  };
}
