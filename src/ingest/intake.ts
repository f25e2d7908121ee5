import type { NewMessage, InsertResult, Ledger, RefusedInput } from '../ledger/ledger.js';
import { isDataRejection } from '../ledger/rejection.js';
import { coerceError } from '../errors.js';
import { asKeyText } from '../lib/key-text.js';
import { directionOf } from '../domain/lane-item.js';
import type { IngestSource } from '../domain/message.js';
import { GroupCommitter } from '../lib/group-commit.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Normalized } from '../evolution/normalize.js';
import { type IngestRecorder, noMetrics } from '../metrics/recorders.js';

export interface IntakeResult {
  status: 'accepted' | 'ignored' | 'refused';
  inserted: number;
  duplicates: number;
  skipped: number;
  reason?: string;
  code?: string;
}

export interface IntakeOptions {
  batchMax: number;
  /** Delay before a new message may be delivered, so slightly late siblings sort before it. */
  orderWindowMs: number;
  /** Ingest batches committed side by side (PostgreSQL gains from several). */
  parallel?: number;
  /** Instances to sync; null = all. */
  instances: readonly string[] | null;
}

/** What became of one message handed to the ledger: stored, already there, or refused for its data and kept. */
export type Stored = InsertResult | 'rejected';

/** Longest raw body kept for a refused input; the rest is cut, and the cut is said. */
const MAX_KEPT_BODY = 256 * 1024;

/**
 * Where every ingest source (webhook, RabbitMQ, reconcile) hands its normalised events. Messages
 * go through one group committer, so concurrent webhook requests share commits; each caller's
 * promise resolves only when its own events are durable — the moment it may answer 2xx or ack.
 */
export class Intake {
  readonly #ledger: Ledger;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #opts: IntakeOptions;
  readonly #committer: GroupCommitter<NewMessage, Stored>;
  readonly #metrics: IngestRecorder;
  #onNewWork: (inMs: number) => void = () => {};
  #onCommitted: (n: Extract<Normalized, { kind: 'messages' | 'control' }>, inserted: number) => void = () => {};
  counts = { inserted: 0, duplicates: 0, refused: 0, ignored: 0, rejected: 0 };

  constructor(ledger: Ledger, clock: Clock, logger: Logger, opts: IntakeOptions, metrics: IngestRecorder = noMetrics) {
    this.#ledger = ledger;
    this.#metrics = metrics;
    this.#clock = clock;
    this.#logger = logger;
    this.#opts = opts;
    this.#committer = new GroupCommitter((items) => this.#store(items), { maxBatch: opts.batchMax, parallel: opts.parallel ?? 1 });
  }

  /**
   * Stores a batch. A batch the ledger refuses for the data in it (see isDataRejection) is halved,
   * each half stored in turn (arrival order kept), until the message at fault is alone: it is kept
   * with the ledger's reason and the others are stored. Without this, one such message failed its
   * whole batch on every retry, and a RabbitMQ consumer held everything behind it unacked forever.
   */
  async #store(items: NewMessage[]): Promise<Stored[]> {
    try {
      return await this.#insert(items);
    } catch (error) {
      if (!isDataRejection(error)) throw error;
      if (items.length === 1) {
        await this.#keepRejected(items[0] as NewMessage, error);
        return ['rejected'];
      }
      const half = Math.ceil(items.length / 2);
      const first = await this.#store(items.slice(0, half));
      return [...first, ...(await this.#store(items.slice(half)))];
    }
  }

  async #keepRejected(item: NewMessage, error: unknown): Promise<void> {
    const err = coerceError(error);
    const code = (error as { code?: unknown }).code;
    const m = item.message;
    this.counts.rejected += 1;
    await this.refuse({
      source: item.source,
      code: 'LEDGER_REJECTED',
      reason: `the ledger refused this message (${String(code)}): ${err.message.slice(0, 300)}`,
      // The very text the ledger refused may be in these: kept readable, never as it came.
      instance: asKeyText(m.instance),
      event: asKeyText(m.event),
      body: JSON.stringify(m),
    });
  }

  async #insert(items: NewMessage[]): Promise<InsertResult[]> {
    const now = this.#clock.now();
    const startedAt = performance.now();
    const results = await this.#ledger.insertMessages(items, now, now + this.#opts.orderWindowMs, () => this.#clock.now());
    const tookMs = performance.now() - startedAt;
    // The ordering window runs from the batch's start: a commit that takes a good part of it
    // leaves a late sibling less time to take its place. Worth knowing when it happens.
    if (this.#opts.orderWindowMs > 0 && tookMs > this.#opts.orderWindowMs / 2) {
      this.#logger.warn({ tookMs: Math.round(tookMs), events: items.length, orderWindowMs: this.#opts.orderWindowMs }, 'ingest commit took more than half the ordering window');
    }
    return results;
  }

  onNewWork(fn: (inMs: number) => void): void {
    this.#onNewWork = fn;
  }

  /**
   * Told of every committed message batch (with how many of its messages were new) and control
   * event: reconcile follows instances with it, the live dashboard counts what arrived.
   */
  onCommitted(fn: (n: Extract<Normalized, { kind: 'messages' | 'control' }>, inserted: number) => void): void {
    this.#onCommitted = fn;
  }

  get committer(): GroupCommitter<NewMessage, Stored> {
    return this.#committer;
  }

  async accept(n: Normalized, source: IngestSource, rawBody: string): Promise<IntakeResult> {
    return (await this.acceptMany([{ n, rawBody }], source))[0] as IntakeResult;
  }

  /**
   * Several events that arrived together (a burst of broker deliveries): their messages are
   * committed in one batch with one promise for all, and each event gets its own result.
   */
  async acceptMany(events: readonly { n: Normalized; rawBody: string }[], source: IngestSource): Promise<IntakeResult[]> {
    const results: IntakeResult[] = new Array(events.length);
    const items: NewMessage[] = [];
    const owners: { index: number; from: number; to: number }[] = [];
    const waits: Promise<void>[] = [];
    events.forEach(({ n, rawBody }, index) => {
      if (n.kind === 'refused') {
        waits.push(this.refuse({ source, code: n.code, reason: n.reason, instance: n.instance, event: n.event, body: rawBody }));
        results[index] = { status: 'refused', inserted: 0, duplicates: 0, skipped: 0, reason: n.reason, code: n.code };
        return;
      }
      if (n.instance !== null && this.#opts.instances && !this.#opts.instances.includes(n.instance)) {
        this.counts.ignored += 1;
        this.#metrics.ignored(source);
        results[index] = { status: 'ignored', inserted: 0, duplicates: 0, skipped: 0, code: 'INSTANCE_NOT_SYNCED', reason: `instance ${n.instance} is not in EVOSYNC_INSTANCES` };
        return;
      }
      if (n.kind === 'ignored') {
        this.counts.ignored += 1;
        this.#metrics.ignored(source);
        results[index] = { status: 'ignored', inserted: 0, duplicates: 0, skipped: 0, reason: n.reason, code: 'EVENT_UNSUPPORTED' };
        return;
      }
      if (n.kind === 'control') {
        waits.push(
          this.#ledger.setInstanceState(n.instance, n.state, n.statusReason, this.#clock.now()).then(() => {
            this.#logger.info({ instance: n.instance, state: n.state, statusReason: n.statusReason }, 'instance connection state');
            this.#onCommitted(n, 0);
          }),
        );
        results[index] = { status: 'accepted', inserted: 0, duplicates: 0, skipped: 0 };
        return;
      }
      owners.push({ index, from: items.length, to: items.length + n.messages.length });
      for (const message of n.messages) items.push({ message, direction: directionOf(message), source });
      results[index] = { status: 'accepted', inserted: 0, duplicates: 0, skipped: n.skipped.length };
    });
    // Together: a failed commit must not leave the other writes' failures unobserved.
    const [written] = await Promise.all([items.length > 0 ? this.#committer.submitMany(items) : Promise.resolve([]), Promise.all(waits)]);
    let anyInserted = false;
    for (const o of owners) {
      const n = (events[o.index] as { n: Extract<Normalized, { kind: 'messages' }> }).n;
      let inserted = 0;
      let rejected = 0;
      for (let i = o.from; i < o.to; i++) {
        if (written[i] === 'inserted') inserted += 1;
        else if (written[i] === 'rejected') rejected += 1;
      }
      const duplicates = o.to - o.from - inserted - rejected;
      this.counts.inserted += inserted;
      this.counts.duplicates += duplicates;
      this.#metrics.ingested(source, n.event, inserted, duplicates);
      this.#onCommitted(n, inserted);
      anyInserted ||= inserted > 0;
      // Every message of the event refused by the ledger (and kept): the event itself is refused.
      results[o.index] = rejected > 0 && rejected === o.to - o.from
        ? { status: 'refused', inserted: 0, duplicates: 0, skipped: n.skipped.length, code: 'LEDGER_REJECTED', reason: 'the ledger refused the data of this event; it is kept with the reason' }
        : { status: 'accepted', inserted, duplicates, skipped: n.skipped.length };
    }
    if (anyInserted) this.#onNewWork(this.#opts.orderWindowMs);
    return results;
  }

  /** Keeps input evosync could not use, with its reason, so nothing vanishes silently. */
  refuse(r: Omit<RefusedInput, 'receivedAt'>): Promise<void> {
    return this.refuseMany([r]);
  }

  async refuseMany(refused: readonly Omit<RefusedInput, 'receivedAt'>[]): Promise<void> {
    const now = this.#clock.now();
    const rows = refused.map((r) => {
      const redacted = redactSecrets(r.body);
      const body = redacted.length > MAX_KEPT_BODY ? `${redacted.slice(0, MAX_KEPT_BODY)}…[cut: ${redacted.length} bytes in all]` : redacted;
      return { ...r, body, receivedAt: now };
    });
    await this.#ledger.recordRefused(rows);
    for (const r of refused) {
      this.counts.refused += 1;
      this.#logger.warn({ source: r.source, code: r.code, reason: r.reason, instance: r.instance, event: r.event }, 'input refused and kept');
      this.#metrics.refused(r.source, r.code);
    }
  }

  close(): Promise<void> {
    return this.#committer.close();
  }
}

/**
 * Evolution puts the instance token in the envelope's `apikey` when it exposes tokens; a refused
 * body is kept for operators to read, so credentials are blanked before it is stored.
 */
export function redactSecrets(body: string): string {
  return body.replace(/("(?:apikey|apiKey|api_key|token|api_access_token|password|secret)"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"[redacted]"');
}
