import { coerceError, IllegalStateError } from '../errors.js';
import type { GroupCommitter } from '../lib/group-commit.js';
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
  completer: GroupCommitter<Completion, CompletionResult>;
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
   * Delivers a lane's messages in order, one request at a time. A message that succeeded is
   * followed at once by the next one the last commit named (pipelining): its own outcome commits
   * while the next request is on its way, instead of holding the chat up for a disk flush. That is
   * safe because every message sent has been named as in flight by a commit made before it was
   * sent — the lane start, or the completion before — so a takeover looks up each one whose outcome
   * never committed. One completion per lane is outstanding at a time, so they commit in order.
   */
  async #runLane(lane: ClaimedLane): Promise<void> {
    const pipe: { committing: Promise<CompletionResult> | null } = { committing: null };
    try {
      await this.#deliverLane(lane, pipe);
    } catch (error) {
      // The lane is given up next: its last commit must land first, or it could name messages in
      // flight in a lane this process has already let go of (and may claim again).
      await pipe.committing?.catch(() => undefined);
      throw error;
    }
  }

  async #deliverLane(lane: ClaimedLane, pipe: { committing: Promise<CompletionResult> | null }): Promise<void> {
    const { ledger, clock } = this.#deps;
    const { owner, deadPolicy, leaseMs } = this.#opts;
    // Committed before anything is sent: if this process dies mid-request, whoever takes the lane
    // over knows which messages to look up. Later ones are named by each completion. A head the
    // start did not mark (not due by then, or the lease gone) is not sent.
    const startAt = clock.now();
    const start = await ledger.startLane(lane.instance, lane.chat, owner, deadPolicy, startAt);
    let head = start.head;
    let then = start.then;
    /**
     * When the lane read that chose `head` (and `then`) was made: the moment their send was
     * decided, recorded as their send time. A message that reached evosync after that is a late
     * arrival, not a misordering, however long the requests in between took (see
     * PIPELINE_FRESH_MS). The ledger call's own time stands for its read, made just after.
     */
    let headAt = startAt;
    let thenAt = startAt;
    /** The time of the completion being committed (pipe.committing). */
    let committingAt = startAt;
    /** The lease's term as the last commit read it (renewals extend it; commits do not). */
    let leaseUntil = start.leaseUntil;
    let suspect = lane.suspect;
    const slice = this.#opts.sliceMessages ?? DEFAULT_SLICE_MESSAGES;
    let served = 0;
    while (head) {
      if (head.state !== 'pending' || head.nextAttemptAt > clock.now()) break;
      if (this.#deps.pace && head.direction === 'to_chatwoot') {
        const turn = await this.#deps.pace(lane, this.#abort.signal);
        if (turn.waitedMs > PACE_REREAD_MS) {
          // An older message may have been committed meanwhile: read the head again (after the
          // commit still running, which names the lane's messages in flight, is done).
          if (pipe.committing) {
            const prev: CompletionResult = await pipe.committing;
            pipe.committing = null;
            if (!prev.leaseHeld) return;
          }
          const readAt = clock.now();
          const fresh = await ledger.startLane(lane.instance, lane.chat, owner, deadPolicy, readAt);
          if (!fresh.head) break;
          head = fresh.head;
          then = fresh.then;
          leaseUntil = fresh.leaseUntil;
          headAt = readAt;
          thenAt = readAt;
        }
      }
      const startedAt = clock.now();
      const sentAt = headAt;
      const current = head;
      const outcome = await this.#handle(current, { ...lane, suspect });
      const now = clock.now();
      served += 1;
      suspect = false;
      if (pipe.committing) {
        // The commit that named `current` in flight: it also names what may follow it.
        const prev: CompletionResult = await pipe.committing;
        pipe.committing = null;
        if (!prev.leaseHeld) {
          // Taken over meanwhile: the outcome is still recorded; the lane is someone else's.
          await this.#record({ messageId: current.id, instance: lane.instance, chat: lane.chat, owner, outcome, keepLeaseUntil: null, nowMs: now, deadPolicy, attemptStartedAt: sentAt });
          this.#observe(current, outcome, now, startedAt);
          return;
        }
        then = prev.then;
        thenAt = committingAt;
        leaseUntil = prev.leaseUntil;
      }
      // Give the slot back (the lane goes behind the waiting ones) once this chat had its turn.
      const yieldSlot = served >= slice && this.#backlogged;
      const keep = this.#state === 'running' && !yieldSlot ? now + leaseMs : null;
      const completion: Completion = { messageId: current.id, instance: lane.instance, chat: lane.chat, owner, outcome, keepLeaseUntil: keep, nowMs: now, deadPolicy, attemptStartedAt: sentAt };
      // Pipelined only well inside the lease's term: a lane reaped by another process is learned
      // from a commit, and a pipelined send goes out before that commit answers.
      const leaseSafe = leaseUntil !== null && leaseUntil - now > leaseMs / 2;
      const fresh = now - thenAt <= PIPELINE_FRESH_MS;
      if (outcome.state === 'delivered' && keep !== null && then !== null && leaseSafe && fresh && mayFollowBeforeCommit(current, then)) {
        const next: LedgerMessage = then;
        pipe.committing = this.#record({ ...completion, pipelined: next.id });
        committingAt = now;
        // Awaited with the next outcome; a failure until then must not count as unhandled.
        pipe.committing.catch(() => undefined);
        this.#observe(current, outcome, now, startedAt);
        head = next;
        headAt = thenAt;
        then = null;
        continue;
      }
      const result = await this.#record(completion);
      this.#observe(current, outcome, now, startedAt);
      if (!result.leaseHeld) return;
      head = result.next;
      then = result.then;
      headAt = now;
      thenAt = now;
      leaseUntil = result.leaseUntil;
      if (!head) return;
    }
    if (pipe.committing) {
      const prev: CompletionResult = await pipe.committing;
      pipe.committing = null;
      if (!prev.leaseHeld) return;
    }
    await ledger.settleLane(lane.instance, lane.chat, owner, deadPolicy);
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
