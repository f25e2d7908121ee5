import { type Kysely, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { coerceError } from '../errors.js';
import type { Logger } from '../lib/logger.js';
import type { Database } from './schema.js';

/**
 * The channel on which a commit that makes work due (new messages, a lane given back, a lease
 * reaped, a dead message retried) tells every process sharing the PostgreSQL ledger. NOTIFY is
 * transactional: it is delivered on commit, never for work that was rolled back.
 */
export const WORK_CHANNEL = 'evosync_work';

/**
 * One dedicated connection LISTENing on the work channel (graphile-worker's pattern): a wake-up
 * arrives within milliseconds of the commit in any process, so idle processes can poll slowly.
 * The connection is re-made forever after a loss, and every (re)connect wakes the dispatcher once,
 * since notifications sent while it was away are lost.
 */
export class WorkListener {
  readonly #url: string;
  readonly #onWork: () => void;
  readonly #logger: Logger;
  #client: pg.Client | null = null;
  #connected = false;
  #stopped = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  notifications = 0;

  constructor(url: string, onWork: () => void, logger: Logger) {
    this.#url = url;
    this.#onWork = onWork;
    this.#logger = logger;
  }

  /** True while LISTENing: the dispatcher may then rely on wake-ups and poll slowly. */
  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5000, keepAlive: true });
    this.#client = client;
    client.on('notification', () => {
      this.notifications += 1;
      this.#onWork();
    });
    const lost = (error?: unknown) => {
      if (this.#client !== client) return;
      this.#client = null;
      if (this.#connected) this.#logger.warn({ err: error ? coerceError(error) : undefined }, 'lost the ledger wake-up connection; polling until it is back');
      this.#connected = false;
      client.end().catch(() => {});
      this.#retry();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${WORK_CHANNEL}`);
      if (this.#stopped || this.#client !== client) {
        await client.end().catch(() => {});
        return;
      }
      this.#connected = true;
      this.#failures = 0;
      this.#onWork();
    } catch (error) {
      if (this.#failures++ === 0) this.#logger.warn({ err: coerceError(error) }, 'cannot LISTEN for ledger wake-ups; polling until it can');
      lost(error);
    }
  }

  #retry(): void {
    if (this.#stopped || this.#retryTimer) return;
    const ms = Math.min(250 * 2 ** Math.min(this.#failures, 5), 5000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, ms);
    this.#retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = null;
    this.#connected = false;
    await client?.end().catch(() => {});
  }
}

/** PostgreSQL only: delivered to every LISTENing process when the surrounding transaction commits. */
export async function notifyWork(db: Kysely<Database> | Transaction<Database>): Promise<void> {
  await sql`select pg_notify(${WORK_CHANNEL}, '')`.execute(db);
}

/**
 * An operator freed a chat's head (retry, discard): the lane is due now, even one parked behind a
 * dead head under policy hold, and every process hears of it.
 */
export async function wakeLane(trx: Transaction<Database>, dialect: 'sqlite' | 'postgres', lane: { instance: string; chat: string }, nowMs: number): Promise<void> {
  await trx
    .insertInto('lanes')
    .values({ instance: lane.instance, chat: lane.chat, due_at: nowMs, suspect: 0 })
    .onConflict((oc) => oc.columns(['instance', 'chat']).doUpdateSet({ due_at: nowMs }))
    .execute();
  if (dialect === 'postgres') await notifyWork(trx);
}
