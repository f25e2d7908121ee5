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

interface Waiter<I, R> {
  item: I;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class GroupCommitter<I, R> {
  readonly #write: (items: I[]) => Promise<R[]>;
  readonly #opts: GroupCommitOptions;
  #queue: Waiter<I, R>[] = [];
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
    if (this.#closed) return Promise.reject(new Error('group committer is closed'));
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#kick();
    });
  }

  submitMany(items: I[]): Promise<R[]> {
    return Promise.all(items.map((item) => this.submit(item)));
  }

  get pending(): number {
    return this.#queue.length;
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

  async #flush(): Promise<void> {
    const linger = this.#opts.lingerMs ?? 0;
    try {
      if (linger > 0 && this.#queue.length < this.#opts.maxBatch) {
        await new Promise((r) => setTimeout(r, linger));
      } else {
        // Let callers that are already resolving in this tick join the batch.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.#starting = false;
    }
    const batch = this.#queue.splice(0, this.#opts.maxBatch);
    if (batch.length === 0) return;
    // Another writer may start gathering while this one writes.
    if (this.#queue.length > 0) this.#kick();
    try {
      const results = await this.#write(batch.map((w) => w.item));
      this.batches += 1;
      this.items += batch.length;
      batch.forEach((w, i) => w.resolve(results[i] as R));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }
}
