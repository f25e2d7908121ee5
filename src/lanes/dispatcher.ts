import { coerceError, IllegalStateError } from '../errors.js';
import type { Committer } from '../lib/keyed-commit.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { shutdownController, Wakeable } from '../lib/sleep.js';
import type { ClaimedLane, Completion, CompletionOutcome, CompletionResult, Ledger, LedgerMessage } from '../ledger/ledger.js';
import type { ActivitySink } from '../live/changes.js';
import type { DeliveryOutcome, DeliveryRecorder } from '../metrics/recorders.js';
import { mayFollowBeforeCommit } from './follows.js';

/** Delivers one message; must not throw (a throw is recorded as a counted retry). */
export type LaneHandler = (row: LedgerMessage, lane: ClaimedLane, signal: AbortSignal) => Promise<CompletionOutcome>;

export interface DispatcherOptions {
  owner: string;
  concurrency: number;
  leaseMs: number;
  deadPolicy: 'skip' | 'hold';
  /** Longest idle sleep between looks at the ledger (new work also wakes it). */
  pollMs: number;
  graceMs: number;
  retryBaseMs: number;
  /**
   * Messages a lane delivers before it gives its slot to a chat that waits for one (default 25).
   * Without it the chats beyond the first `concurrency` wait until whole backlogs ahead of them
   * are delivered; with it every waiting chat moves, in turns.
   */
  sliceMessages?: number;
}

const DEFAULT_SLICE_MESSAGES = 25;

export interface DispatcherDeps {
  ledger: Ledger;
  /** Records outcomes; a lane's land in the order they were submitted (see keyed-commit.ts). */
  completer: Committer<Completion, CompletionResult>;
  handle: LaneHandler;
  clock: Clock;
  logger: Logger;
  /**
   * Cuts the requests still in flight when the shutdown grace is over (they end as ambiguous and are
   * looked up on the next start).
   */
  abortInFlight?: () => Promise<void>;
  /** When every upstream is paused, the time delivery can resume; the loop sleeps until then. */
  blockedUntil?: (now: number) => number;
  metrics?: DeliveryRecorder;
  /** Told of every recorded outcome the dashboard shows (a counter increment; see src/live/). */
  activity?: ActivitySink;
  /**
   * Longest idle sleep now, overriding `pollMs`: longer while another channel (PostgreSQL
   * LISTEN/NOTIFY) announces new work, so polling is only the safety net.
   */
  idlePollMs?: () => number;
  /**
   * A second line against two processes delivering one message at once, behind the lane lease:
   * `claim` false = someone else is on it right now.
   */
  guard?: MessageGuardPort;
  /**
   * Waits until the upstream's rate limit gives this lane a turn, and takes it for the handler's
   * first request (see chatwoot/turn-credits.ts). A long wait means the lane's head may have
   * changed meanwhile (an older message committed late), so the head is read again before sending.
   */
  pace?: (lane: ClaimedLane, signal: AbortSignal) => Promise<{ waitedMs: number }>;
}

export interface MessageGuardPort {
  claim(messageId: number): Promise<boolean>;
  release(messageId: number): Promise<void>;
}

/** A wait for a rate-limit turn longer than this may have let an older message in ahead of the head. */
const PACE_REREAD_MS = 20;

/**
 * A pipelined send goes out on a choice made when an earlier commit read the lane: that read is as
 * old as the request just answered. After a slow answer the lane is read again instead, so a
 * message that arrived meanwhile (late from WhatsApp, or repaired) still goes in its place.
 */
const PIPELINE_FRESH_MS = 250;

/** How long a message another process is on waits before this one looks at it again. */
const GUARDED_RETRY_MS = 1000;

type State = 'created' | 'running' | 'stopping' | 'stopped';

/** A lane's outcomes on their way to the ledger, in the order they were submitted. */
interface Pipe {
  committing: Promise<CompletionResult>[];
}

/**
 * The lane dispatcher: claims due lanes (one per chat) and delivers each lane's messages one at a
 * time, in order, with up to `concurrency` lanes in flight. A lane keeps its lease while its next
 * message is due at once, so a busy chat costs one claim, not one per message.
 */
export class Dispatcher {
  readonly #opts: DispatcherOptions;
  readonly #deps: DispatcherDeps;
  readonly #wake = new Wakeable();
  readonly #active = new Set<Promise<void>>();
  /** The lanes being worked on now: the only leases this process renews. */
  readonly #lanes = new Map<string, ClaimedLane>();
  /**
   * Lanes claimed again while their worker was still finishing: a worker that released its lease
   * (next head not due yet) is still in `#lanes` until its promise settles, and a claim in that
   * gap leases the lane to this process with no worker behind it. Nothing renews that lease and
   * the reaper never takes a process's own leases, so the chat stalled until a restart (found by
   * the fidelity acceptance run on PostgreSQL). The finishing worker hands it to a new one.
   */
  readonly #reclaimed = new Map<string, ClaimedLane>();
  readonly #abort = shutdownController();
  #state: State = 'created';
  #loop: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #timers: NodeJS.Timeout[] = [];
  /** The last claim filled every free slot: more chats may be waiting for one. */
  #backlogged = false;
  delivered = 0;
  /** Messages found guarded by another process (should stay 0: the lease already prevents it). */
  guarded = 0;

  constructor(opts: DispatcherOptions, deps: DispatcherDeps) {
    this.#opts = opts;
    this.#deps = deps;
  }

  get state(): State {
    return this.#state;
  }

  get inFlight(): number {
    return this.#active.size;
  }

  start(): void {
    if (this.#state !== 'created') throw new IllegalStateError(`dispatcher cannot start from ${this.#state}`);
    this.#state = 'running';
    const renew = setInterval(() => void this.#renew(), Math.max(250, Math.floor(this.#opts.leaseMs / 4)));
    const reap = setInterval(() => void this.#reap(), Math.max(500, Math.floor(this.#opts.leaseMs / 2)));
    renew.unref();
    reap.unref();
    this.#timers.push(renew, reap);
    this.#loop = this.#run();
  }

  /** New work arrived: look at the ledger now instead of at the end of the current sleep. */
  notify(): void {
    this.#wake.wake();
  }

  /** Stops claiming, lets in-flight deliveries finish (up to the grace time), then aborts them. */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      if (this.#state === 'created') {
        this.#state = 'stopped';
        return;
      }
      this.#state = 'stopping';
      this.#wake.wake();
      await this.#loop;
      const drained = await Promise.race([
        Promise.all(this.#active).then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), this.#opts.graceMs).unref()),
      ]);
      if (!drained) {
        this.#deps.logger.warn({ inFlight: this.#active.size }, 'shutdown grace over: aborting in-flight deliveries');
        this.#abort.abort();
        await this.#deps.abortInFlight?.();
        await Promise.all(this.#active);
      }
      for (const t of this.#timers) clearInterval(t);
      await this.#deps.completer.close();
      await this.#deps.ledger.releaseLanes(this.#opts.owner);
      this.#state = 'stopped';
    })();
    return this.#stopping;
  }

  async #run(): Promise<void> {
    const { ledger, clock, logger } = this.#deps;
    while (this.#state === 'running') {
      const now = clock.now();
      const blocked = this.#deps.blockedUntil?.(now) ?? 0;
      if (blocked > now) {
        await this.#wake.sleep(Math.min(blocked - now, this.#opts.pollMs));
        continue;
      }
      const free = this.#opts.concurrency - this.#active.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const lanes = await ledger.claimLanes(this.#opts.owner, free, now, this.#opts.leaseMs);
          claimed = lanes.length;
          this.#backlogged = claimed === free;
          for (const lane of lanes) this.#startLane(lane);
        } catch (error) {
          logger.error({ err: coerceError(error) }, 'claiming lanes failed; retrying');
          await this.#wake.sleep(1000);
          continue;
        }
        if (claimed === free) continue;
      }
      let sleepMs = this.#deps.idlePollMs?.() ?? this.#opts.pollMs;
      if (free > 0) {
        const next = await ledger.nextDueAt().catch(() => null);
        if (next !== null) sleepMs = Math.min(sleepMs, Math.max(5, next - clock.now()));
      }
      await this.#wake.sleep(sleepMs);
    }
  }

  #startLane(lane: ClaimedLane): void {
    const key = `${lane.instance}\u0000${lane.chat}`;
    // Never two workers on one chat: if this process still works the lane (a lease that lapsed
    // under load and was claimed again, or a worker finishing), it is taken up after that worker.
    if (this.#lanes.has(key)) {
      this.#reclaimed.set(key, lane);
      return;
    }
    this.#lanes.set(key, lane);
    const p = this.#runLane(lane)
      .catch(async (error) => {
        this.#deps.logger.error({ err: coerceError(error), chat: lane.chat, instance: lane.instance }, 'lane failed; it is given up as suspect and will be looked up before any re-send');
        // Abandoning gives the lease up; a claim made before is void (only one after it is real).
        this.#reclaimed.delete(key);
        this.#lanes.delete(key);
        await this.#deps.ledger.abandonLane(lane.instance, lane.chat, this.#opts.owner, this.#deps.clock.now()).catch(() => {
          // The lease is no longer renewed, so it expires and the reaper marks the lane suspect.
        });
      })
      .finally(() => {
        this.#lanes.delete(key);
        this.#active.delete(p);
        const again = this.#reclaimed.get(key);
        this.#reclaimed.delete(key);
        // When stopping, releaseLanes gives every lease of this process back.
        if (again && this.#state === 'running') this.#startLane(again);
        this.#wake.wake();
      });
    this.#active.add(p);
  }

  /**
   * Delivers a lane's messages in order, one request at a time, a window at a time. A commit (the
   * lane start, or the outcome that ends a window) reads the lane and names a window of messages
   * in flight (see LANE_WINDOW); the lane then sends them one after the other, each as soon as the
   * one before it succeeded, while their outcomes commit behind it (pipelining). That is safe
   * because every message sent was named in flight by a commit made before it was sent, so a
   * takeover looks up each one whose outcome never committed. The window's last outcome waits for
   * all before it, then reads the lane again and names the next window: one commit wait per
   * window, not one per message.
   */
  async #runLane(lane: ClaimedLane): Promise<void> {
    const pipe: Pipe = { committing: [] };
    try {
      await this.#deliverLane(lane, pipe);
    } catch (error) {
      // The lane is given up next: its commits must land first, or they could name messages in
      // flight in a lane this process has already let go of (and may claim again).
      await Promise.all(pipe.committing.map((p) => p.catch(() => undefined)));
      throw error;
    }
  }

  async #deliverLane(lane: ClaimedLane, pipe: Pipe): Promise<void> {
    const { ledger, clock } = this.#deps;
    const { owner, deadPolicy, leaseMs } = this.#opts;
    // Committed before anything is sent: if this process dies mid-request, whoever takes the lane
    // over knows which messages to look up. A head the start did not mark (not due by then, or the
    // lease gone) is not sent.
    const startAt = clock.now();
    const start = await ledger.startLane(lane.instance, lane.chat, owner, deadPolicy, startAt);
    /** The window: named in flight by the last lane read, not sent yet, in lane order. */
    let window = start.head ? [start.head, ...start.ahead] : [];
    /**
     * When the lane read that named the window was made: the moment its messages' send was
     * decided, recorded as their send time. A message that reached evosync after that is a late
     * arrival, not a misordering, however long the requests in between took (see
     * PIPELINE_FRESH_MS). The ledger call's own time stands for its read, made just after.
     */
    let windowAt = startAt;
    /** The lease's term as the last commit read it (renewals extend it; commits do not). */
    let leaseUntil = start.leaseUntil;
    /** WhatsApp ids of the messages sent whose outcomes are still committing (pipe.committing). */
    const uncommitted = new Set<string>();
    let suspect = lane.suspect;
    const slice = this.#opts.sliceMessages ?? DEFAULT_SLICE_MESSAGES;
    let served = 0;
    for (let head = window[0]; head; head = window[0]) {
      if (head.state !== 'pending' || head.nextAttemptAt > clock.now()) break;
      if (this.#deps.pace && head.direction === 'to_chatwoot') {
        const turn = await this.#deps.pace(lane, this.#abort.signal);
        if (turn.waitedMs > PACE_REREAD_MS) {
          // An older message may have been committed meanwhile: read the lane again (after the
          // commits still running, which may end the lease, are done).
          const before = await this.#settle(pipe, uncommitted);
          if (!before.held) return;
          const readAt = clock.now();
          const fresh = await ledger.startLane(lane.instance, lane.chat, owner, deadPolicy, readAt);
          if (!fresh.head) break;
          window = [fresh.head, ...fresh.ahead];
          head = fresh.head;
          leaseUntil = fresh.leaseUntil;
          windowAt = readAt;
        }
      }
      window.shift();
      const startedAt = clock.now();
      const sentAt = windowAt;
      const outcome = await this.#handle(head, { ...lane, suspect });
      const now = clock.now();
      served += 1;
      suspect = false;
      // Give the slot back (the lane goes behind the waiting ones) once this chat had its turn.
      const yieldSlot = served >= slice && this.#backlogged;
      const keep = this.#state === 'running' && !yieldSlot ? now + leaseMs : null;
      const completion: Completion = { messageId: head.id, instance: lane.instance, chat: lane.chat, owner, outcome, keepLeaseUntil: keep, nowMs: now, deadPolicy, attemptStartedAt: sentAt };
      const next = window[0];
      // Pipelined only well inside the lease's term: a lane reaped by another process is learned
      // from a commit, and a pipelined send goes out before that commit answers.
      const leaseSafe = leaseUntil !== null && leaseUntil - now > leaseMs / 2;
      const fresh = now - windowAt <= PIPELINE_FRESH_MS;
      if (outcome.state === 'delivered' && keep !== null && next && leaseSafe && fresh) {
        uncommitted.add(head.waId);
        if (mayFollowBeforeCommit(next, uncommitted)) {
          const committing = this.#record({ ...completion, pipelined: next.id });
          // Awaited when the window ends; a failure until then must not count as unhandled.
          committing.catch(() => undefined);
          pipe.committing.push(committing);
          this.#observe(head, outcome, now, startedAt);
          continue;
        }
      }
      // The window ends here: everything sent before commits first, then this outcome, which
      // reads the lane again (the rest of the window, if any, is named again or given back).
      const before = await this.#settle(pipe, uncommitted);
      const result = await this.#record(before.held ? completion : { ...completion, keepLeaseUntil: null });
      this.#observe(head, outcome, now, startedAt);
      // Taken over meanwhile: the outcome is recorded; the lane is someone else's.
      if (!before.held || !result.leaseHeld) return;
      if (!result.next) return;
      window = [result.next, ...result.ahead];
      windowAt = now;
      leaseUntil = result.leaseUntil;
    }
    if (!(await this.#settle(pipe, uncommitted)).held) return;
    await ledger.settleLane(lane.instance, lane.chat, owner, deadPolicy);
  }

  /** Waits for the lane's outcomes still committing; `held` false when one found the lease taken over. */
  async #settle(pipe: Pipe, uncommitted: Set<string>): Promise<{ held: boolean }> {
    let held = true;
    // Taken off only once settled: a failure leaves it for the lane's error path to wait on.
    for (let first = pipe.committing[0]; first; first = pipe.committing[0]) {
      const r = await first;
      pipe.committing = pipe.committing.slice(1);
      if (!r.leaseHeld) held = false;
    }
    uncommitted.clear();
    return { held };
  }

  /** Counts, logs and notes one recorded outcome. */
  #observe(row: LedgerMessage, outcome: CompletionOutcome, now: number, startedAt: number): void {
    if (outcome.state === 'delivered') this.delivered += 1;
    // Handlers log their own deliveries, retries and deaths with the upstream's details; a skip
    // is decided by rules, not by an upstream, so the lane states it once for every handler.
    else if (outcome.state === 'skipped') this.#deps.logger.debug({ messageId: row.id, waId: row.waId, instance: row.instance, chat: row.chat, attempt: row.attempts + 1, durationMs: now - startedAt, reason: outcome.reason }, 'message skipped');
    this.#deps.metrics?.outcome(row.direction, outcomeLabel(outcome), outcome.state === 'delivered' ? now - row.receivedAt : null);
    // A retry changes no count the dashboard shows (the message stays pending): not worth a note.
    if (outcome.state !== 'retry') this.#deps.activity?.note(row.instance, outcome.state);
  }

  /** An outcome that happened must be recorded: a short database hiccup is retried, not dropped. */
  async #record(c: Completion): Promise<CompletionResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#deps.completer.submit(c);
      } catch (error) {
        if (attempt >= 5) throw error;
        this.#deps.logger.warn({ err: coerceError(error), attempt }, 'recording a delivery outcome failed; retrying');
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  async #handle(row: LedgerMessage, lane: ClaimedLane): Promise<CompletionOutcome> {
    const guard = this.#deps.guard;
    if (guard && !(await guard.claim(row.id))) {
      this.guarded += 1;
      this.#deps.logger.warn({ messageId: row.id, waId: row.waId, chat: row.chat }, 'another process is delivering this message right now; looking again shortly');
      // It may be sending this very message: whatever happens next looks it up before any send.
      return { state: 'retry', error: 'being delivered by another process', nextAttemptAt: this.#deps.clock.now() + GUARDED_RETRY_MS, countAttempt: false, maybeSent: true };
    }
    try {
      return await this.#deps.handle(row, lane, this.#abort.signal);
    } catch (error) {
      // A bug in a handler must cost one attempt, not the process or the message.
      const err = coerceError(error);
      this.#deps.logger.error({ err, waId: row.waId, chat: row.chat }, 'delivery handler threw');
      const now = this.#deps.clock.now();
      return { state: 'retry', error: `internal: ${err.message}`, nextAttemptAt: now + this.#opts.retryBaseMs, countAttempt: true, maybeSent: true };
    } finally {
      if (guard) await guard.release(row.id);
    }
  }

  async #renew(): Promise<void> {
    if (this.#lanes.size === 0) return;
    await this.#deps.ledger.renewLeases(this.#opts.owner, [...this.#lanes.values()], this.#deps.clock.now() + this.#opts.leaseMs).catch((error) => {
      this.#deps.logger.warn({ err: coerceError(error) }, 'lease renewal failed');
    });
  }

  async #reap(): Promise<void> {
    const n = await this.#deps.ledger.reapExpiredLeases(this.#deps.clock.now(), this.#opts.owner).catch(() => 0);
    if (n > 0) {
      this.#deps.logger.warn({ lanes: n }, 'took over lanes whose owner stopped renewing its lease');
      this.#wake.wake();
    }
  }
}

/** A retry that did not count an attempt waited on the upstream (paused, rate or flood limit), not on the message. */
function outcomeLabel(o: CompletionOutcome): DeliveryOutcome {
  return o.state === 'retry' ? (o.countAttempt ? 'retry' : 'paused') : o.state;
}
