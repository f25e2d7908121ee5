/**
 * Group commit: callers hand in one item each and await its result; items that arrive while a
 * flush is running are collected and written together by the next flush, in one transaction.
 *
 * This is what lets the webhook answer 2xx "only after commit" and still reach thousands of events
 * per second: under load, a commit carries hundreds of events; when idle, a lone event is committed
 * at once (no artificial linger unless `lingerMs` is set). Per-item results let a batch writer say
 * which items were new and which were duplicates.
 */
export interface GroupCommitOptions {
  /** Largest number of items written by one flush. */
  maxBatch: number;
  /** Optional wait before flushing a non-full batch, to gather more items (0 = none). */
  lingerMs?: number;
  /**
   * Batches written at the same time (default 1). A server database (PostgreSQL) spends most of a
   * batch waiting on round trips, so several connections writing batches side by side multiply
   * throughput; an embedded one (SQLite) has a single writer and gains nothing.
   */
  parallel?: number;
}

/** One caller's items: written in one batch, answered with one promise. */
interface Waiter<I, R> {
  items: I[];
  resolve(results: R[]): void;
  reject(error: unknown): void;
}

export class GroupCommitter<I, R> {
  readonly #write: (items: I[]) => Promise<R[]>;
  readonly #opts: GroupCommitOptions;
  #queue: Waiter<I, R>[] = [];
  /** Items in the queue (a waiter may hold many). */
  #queued = 0;
  #running = 0;
  /** A flush is gathering its batch: the next one waits, so batches are not split needlessly. */
  #starting = false;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  /** Batches written so far and items in them, for benchmarks and metrics. */
  batches = 0;
  items = 0;

  constructor(write: (items: I[]) => Promise<R[]>, opts: GroupCommitOptions) {
    this.#write = write;
    this.#opts = opts;
  }

  submit(item: I): Promise<R> {
    return this.submitMany([item]).then((r) => r[0] as R);
  }

  /**
   * Items that belong together (one broker delivery burst, one webhook body): they are written in
   * the same batch — unless they alone exceed maxBatch, then in as few as it takes — with one
   * promise for all, instead of one per item.
   */
  submitMany(items: I[]): Promise<R[]> {
    if (this.#closed) return Promise.reject(new Error('group committer is closed'));
    if (items.length === 0) return Promise.resolve([]);
    const max = this.#opts.maxBatch;
    if (items.length > max) {
      const parts: Promise<R[]>[] = [];
      for (let i = 0; i < items.length; i += max) parts.push(this.submitMany(items.slice(i, i + max)));
      return Promise.all(parts).then((r) => r.flat());
    }
    return new Promise<R[]>((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      this.#queued += items.length;
      this.#kick();
    });
  }

  get pending(): number {
    return this.#queued;
  }

  /** Refuses new items and waits for everything already submitted to be written. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running > 0 || this.#queue.length > 0) {
      this.#kick();
      await new Promise<void>((r) => this.#idleWaiters.push(r));
    }
  }

  #kick(): void {
    const parallel = this.#opts.parallel ?? 1;
    while (this.#running < parallel && this.#queue.length > 0 && !this.#starting) {
      this.#running += 1;
      this.#starting = true;
      void this.#flush().finally(() => {
        this.#running -= 1;
        if (this.#queue.length > 0) this.#kick();
        else if (this.#running === 0) for (const w of this.#idleWaiters.splice(0)) w();
      });
    }
  }

  /** Whole waiters, in order, up to maxBatch items (at least one waiter). */
  #take(): Waiter<I, R>[] {
    let n = 0;
    let k = 0;
    while (k < this.#queue.length) {
      const size = (this.#queue[k] as Waiter<I, R>).items.length;
      if (k > 0 && n + size > this.#opts.maxBatch) break;
      n += size;
      k += 1;
    }
    this.#queued -= n;
    return this.#queue.splice(0, k);
  }

  async #flush(): Promise<void> {
    const linger = this.#opts.lingerMs ?? 0;
    try {
      if (linger > 0 && this.#queued < this.#opts.maxBatch) {
        await new Promise((r) => setTimeout(r, linger));
      } else {
        // Let callers that are already resolving in this tick join the batch.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.#starting = false;
    }
    const batch = this.#take();
    if (batch.length === 0) return;
    // Another writer may start gathering while this one writes.
    if (this.#queue.length > 0) this.#kick();
    const items = batch.length === 1 ? (batch[0] as Waiter<I, R>).items : batch.flatMap((w) => w.items);
    try {
      const results = await this.#write(items);
      this.batches += 1;
      this.items += items.length;
      let at = 0;
      for (const w of batch) {
        w.resolve(results.slice(at, at + w.items.length));
        at += w.items.length;
      }
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
