import type { LaneItem } from '../domain/lane-item.js';
import type { Direction, IngestSource } from '../domain/message.js';

/**
 * The ledger port: the only storage API the rest of evosync sees. It is the source of truth for
 * every message in either direction — its state, attempts, next attempt time, last error and the
 * ids on both sides — so a process can die at any moment and the next one carries on from here.
 */
export type MessageState = 'pending' | 'delivered' | 'skipped' | 'dead';

export interface NewMessage {
  message: LaneItem;
  direction: Direction;
  source: IngestSource;
}

export type InsertResult = 'inserted' | 'duplicate';

export interface LedgerMessage {
  id: number;
  instance: string;
  waId: string;
  chat: string;
  direction: Direction;
  fromMe: boolean;
  waTs: number;
  source: string;
  event: string;
  message: LaneItem;
  state: MessageState;
  attempts: number;
  nextAttemptAt: number;
  maybeSent: boolean;
  lastError: string | null;
  cwConversationId: number | null;
  cwMessageId: number | null;
  receivedAt: number;
  deliveredAt: number | null;
  /** When the attempt that (maybe) put it on the other side began; null until then. */
  sentAt: number | null;
  /** Agent replies: the WhatsApp id it was sent as, recorded the moment Evolution answered. */
  sentWaId?: string | null;
  /** Last WhatsApp status passed on to Chatwoot for this message. */
  waStatus?: string | null;
}

export interface ClaimedLane {
  instance: string;
  chat: string;
  /** The previous owner died holding this lane: its head may already be on the other side. */
  suspect: boolean;
}

export type CompletionOutcome =
  | { state: 'delivered'; cwMessageId: number | null; cwConversationId: number | null }
  | { state: 'skipped'; reason: string }
  | { state: 'dead'; error: string }
  | { state: 'retry'; error: string; nextAttemptAt: number; countAttempt: boolean; maybeSent: boolean };

export interface Completion {
  messageId: number;
  instance: string;
  chat: string;
  owner: string;
  outcome: CompletionOutcome;
  /**
   * Non-null: keep the lane when its next head is due at once (null = release). The lease itself
   * is extended by the owner's renewals, not by each completion: a kept lane's row changes only
   * in what it has in flight, so no lane index is rewritten per message.
   */
  keepLeaseUntil: number | null;
  nowMs: number;
  deadPolicy: 'skip' | 'hold';
  /**
   * When this attempt's send was decided (default nowMs): the time of the lane read that chose the
   * message, just before its request (or, pipelined, before the request ahead of it). A message
   * that reached evosync after a newer one of its chat had been chosen to be sent is a late
   * arrival, not a misordering: telling the two apart needs that time, not Chatwoot's answer.
   */
  attemptStartedAt?: number;
  /**
   * The message the lane owner is already sending, before this outcome is committed (pipelining:
   * it was named as the lane's next in flight by the commit before). The lane stays leased, and
   * the commit names it and the message after it as in flight.
   */
  pipelined?: number | null;
}

export interface CompletionResult {
  /** The lane's next head when it is due now and the lease was kept; the caller continues with it. */
  next: LedgerMessage | null;
  /**
   * The message after `next` (or after the pipelined one), committed as in flight too: the caller
   * may send it as soon as the one before it succeeded, without waiting for that one's commit.
   */
  then: LedgerMessage | null;
  /** False when another process had taken the lane over (the outcome was still recorded). */
  leaseHeld: boolean;
  /** The lease's expiry as the commit read it (null when not held): how long sending ahead is safe. */
  leaseUntil: number | null;
}

export interface LaneStart {
  /** The head, committed as in flight: due by then and the lease still held (else null: send nothing). */
  head: LedgerMessage | null;
  /** The message after the head that may be pipelined (also committed in flight). */
  then: LedgerMessage | null;
  /** The lease's expiry as the start read it (null when not held). */
  leaseUntil: number | null;
}

export interface RefusedInput {
  source: string;
  code: string;
  reason: string;
  instance: string | null;
  event: string | null;
  body: string;
  receivedAt: number;
}

export interface ChatLink {
  instance: string;
  chat: string;
  accountId: number;
  inboxId: number;
  contactId: number;
  contactSourceId: string;
  conversationId: number | null;
  conversationCheckedAt: number | null;
}

/** A LID ↔ phone pair the ledger learned (identity table). */
export interface IdentityRecord {
  instance: string;
  lid: string;
  phoneJid: string;
  learnedAt: number;
  /** When the LID's lane was folded into the phone's; null while that waits for a lease. */
  mergedAt: number | null;
}

/** learned: new pair, lanes folded; known: nothing new; deferred: recorded, fold pending; conflict: kept the older pair. */
export type LearnResult = 'learned' | 'known' | 'deferred' | 'conflict';

export interface LedgerCounts {
  pending: number;
  delivered: number;
  skipped: number;
  dead: number;
  refused: number;
}

export interface MessageQuery {
  instance?: string;
  chat?: string;
  state?: MessageState;
  direction?: Direction;
  afterId?: number;
  limit?: number;
}

/** What the ledger knows of a WhatsApp id, without its payload (reconcile and check compare these). */
export interface KnownWaId {
  chat: string;
  state: MessageState;
  waTs: number;
  cwConversationId: number | null;
  cwMessageId: number | null;
  receivedAt: number;
  deliveredAt: number | null;
  /** When the attempt that (maybe) put it on the other side began; null until then. */
  sentAt: number | null;
}

/** One reconciliation run, as recorded for operators. */
export interface ReconcileRun {
  instance: string;
  /** schedule | reconnect | api | cli */
  trigger: string;
  windowFrom: number;
  windowTo: number;
  chat: string | null;
  pages: number;
  compared: number;
  missing: number;
  repaired: number;
  /** Stored rows that could not be read as messages (counted, never silently dropped). */
  unusable: number;
  /**
   * Chatwoot → WhatsApp: conversations of the inbox active in the window that were read, and the
   * agent reply messages in them (one per WhatsApp message a reply becomes) compared with the
   * ledger, found missing from it, and fed into delivery.
   */
  agentConversations: number;
  agentCompared: number;
  agentMissing: number;
  agentRepaired: number;
  /** null when the run completed; else why it stopped (what it repaired until then stays repaired). */
  error: string | null;
  startedAt: number;
  durationMs: number;
}

/** One minute of one instance's traffic, for the dashboard's chart. */
export interface ThroughputBucket {
  instance: string;
  /** Start of the minute, epoch ms. */
  minuteAt: number;
  /** Messages committed to the ledger in this minute (either direction). */
  received: number;
  /** Messages delivered in this minute. */
  delivered: number;
  /** Sum and maximum of received → delivered over the messages delivered in this minute. */
  lagMsSum: number;
  lagMsMax: number;
}

/** An Evolution instance's last known connection state (`connection.update`). */
export interface InstanceStateRecord {
  instance: string;
  state: string;
  statusReason: number | null;
  updatedAt: number;
}

export interface InstanceBacklog {
  instance: string;
  pending: number;
  dead: number;
}

/** What an operator may look a message up by; the fields given are OR-ed. */
export interface MessageSearch {
  /** A WhatsApp message id (also matches an agent reply sent as that id). */
  waId?: string;
  /** A Chatwoot message id (delivered messages, and agent replies). */
  cwMessageId?: number;
  /** A Chatwoot conversation id: the latest messages of the chats linked to it. */
  cwConversationId?: number;
  /** A chat JID: its latest messages. */
  chat?: string;
  limit: number;
}

/** The reason a discarded message keeps (state `skipped`), so the decision stays visible. */
export const DISCARDED_BY_OPERATOR = 'discarded by operator';

export interface Ledger {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Writes messages in one transaction; duplicates of (instance, wa id) are reported, not errors.
   * `dueAtMs` (default now) is when the new messages may first be delivered: a short ordering
   * window lets a message that Evolution published a moment late still take its place in the chat.
   * `arrival` (the caller's clock) stamps their arrival at the moment no lane read can overtake
   * them any more; without it they arrive at `nowMs`.
   */
  insertMessages(rows: NewMessage[], nowMs: number, dueAtMs?: number, arrival?: () => number): Promise<InsertResult[]>;
  recordRefused(rows: RefusedInput[]): Promise<void>;
  setInstanceState(instance: string, state: string, statusReason: number | null, atMs: number): Promise<void>;

  /** Leases up to `limit` due, unleased lanes to `owner`. */
  claimLanes(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<ClaimedLane[]>;
  /**
   * A new lease's start: the lane's head and, when the head is due, commits it (and the message it
   * may be followed by at once, `then`) as in flight before anything is sent.
   */
  startLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold', nowMs: number): Promise<LaneStart>;
  /** The lane's first message still to deliver (and, with policy hold, a dead head that blocks it). */
  laneHead(instance: string, chat: string, deadPolicy: 'skip' | 'hold'): Promise<LedgerMessage | null>;
  /** Records outcomes and moves each lane on, all in one transaction. */
  complete(items: Completion[]): Promise<CompletionResult[]>;
  /** Recomputes a lane's due time from its head and releases it (nothing deliverable at its head). */
  settleLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold'): Promise<void>;
  /** Extends the owner's leases of these lanes: a slow delivery must not lose its lane mid-request. */
  renewLeases(owner: string, lanes: readonly { instance: string; chat: string }[], untilMs: number): Promise<number>;
  /** Gives a lane up after its outcome could not be recorded: suspect, so its head is looked up. */
  abandonLane(instance: string, chat: string, owner: string, nowMs: number): Promise<void>;
  /** Highest Chatwoot id committed as delivered in a chat: where a look-up for a lost answer starts. */
  lastDeliveredCwMessageId(instance: string, chat: string): Promise<number | null>;
  /** Gives back the owner's leases (graceful shutdown), without marking them suspect. */
  releaseLanes(owner: string): Promise<number>;
  /**
   * Frees leases that expired (their owner died or stalled) and marks those lanes suspect.
   * `exceptOwner` is the caller: a process never reaps its own leases, it renews them.
   */
  reapExpiredLeases(nowMs: number, exceptOwner?: string): Promise<number>;
  /** Earliest time any unleased lane is due, to size the dispatcher's sleep. */
  nextDueAt(): Promise<number | null>;

  getChatLink(instance: string, chat: string, accountId: number, inboxId: number): Promise<ChatLink | null>;
  saveChatLink(link: ChatLink, nowMs: number): Promise<void>;

  counts(): Promise<LedgerCounts>;
  /** When the oldest message still pending was received (null when none): the backlog's age. */
  oldestPendingReceivedAt(): Promise<number | null>;
  listMessages(query: MessageQuery): Promise<LedgerMessage[]>;
  getMessage(instance: string, waId: string): Promise<LedgerMessage | null>;
  listRefused(limit: number): Promise<(RefusedInput & { id: number })[]>;
  /** Operator action: put a dead message back in its lane for another round of attempts. */
  retryDead(messageId: number, nowMs: number): Promise<boolean>;
  /**
   * Operator action: give up on a dead message for good. It becomes `skipped` with the reason
   * "discarded by operator" (its last error kept after it), and its chat moves on (policy hold).
   */
  discardDead(messageId: number, nowMs: number): Promise<boolean>;
  /** Dashboard: received and delivered per minute and instance since `fromMs` (index range scans). */
  throughputSince(fromMs: number): Promise<ThroughputBucket[]>;
  instanceStates(): Promise<InstanceStateRecord[]>;
  /** Pending and dead messages per instance. */
  backlogByInstance(): Promise<InstanceBacklog[]>;
  /** Newest first; every lookup uses an index. */
  searchMessages(q: MessageSearch): Promise<LedgerMessage[]>;
  /** Which of these WhatsApp ids the ledger holds for the instance (one query per few hundred ids). */
  existingWaIds(instance: string, waIds: readonly string[]): Promise<Map<string, KnownWaId>>;
  recordReconcileRun(run: ReconcileRun): Promise<void>;
  /**
   * The Chatwoot id of the message of this instance delivered last before `atMs`: every Chatwoot
   * message created after that time has a higher id (ids are one sequence), so reconcile can read a
   * conversation forwards from it with large pages instead of backwards 20 at a time. null = none.
   */
  cwMessageIdDeliveredBefore(instance: string, atMs: number): Promise<number | null>;

  /**
   * Records the WhatsApp id an agent reply was sent as, at once and outside the lane's completion:
   * from then on nothing sends it again, whatever happens to the rest of the attempt.
   */
  recordSentWaId(messageId: number, sentWaId: string, nowMs: number): Promise<void>;
  /** The agent reply that was sent as this WhatsApp id (an echo or a receipt refers to it by it). */
  findBySentWaId(instance: string, sentWaId: string): Promise<LedgerMessage | null>;
  /**
   * WhatsApp messages sent from the business number (fromMe, towards Chatwoot) in a chat between two
   * WhatsApp times (epoch seconds, inclusive): where an agent reply's own echo is looked for.
   */
  fromMeInWindow(instance: string, chat: string, fromTs: number, toTs: number, limit: number): Promise<LedgerMessage[]>;
  /** Remembers the last WhatsApp status passed on to Chatwoot for a message. */
  setWaStatus(messageId: number, status: string, nowMs: number): Promise<void>;
  /** The chat link of a Chatwoot conversation (which instance and chat an agent reply goes to). */
  chatLinkByConversation(accountId: number, inboxId: number, conversationId: number): Promise<ChatLink | null>;
  /**
   * Identity (LID ↔ phone). Pairs are also learned by `insertMessages` from every item that proves
   * one, in the same transaction; this records one directly (reconcile, tests, operators).
   */
  learnIdentity(instance: string, lid: string, phoneJid: string, nowMs: number): Promise<LearnResult>;
  /** The pair a LID or a phone JID belongs to, or null. */
  identityOf(instance: string, jid: string): Promise<IdentityRecord | null>;
  listIdentities(instance: string): Promise<IdentityRecord[]>;
  /** Completes folds of LID lanes that had to wait for a lease; returns how many completed. */
  mergePendingIdentities(nowMs: number): Promise<number>;
  /** Newest first; all instances when `instance` is null. */
  listReconcileRuns(instance: string | null, limit: number): Promise<(ReconcileRun & { id: number })[]>;
  close(): Promise<void>;
}
