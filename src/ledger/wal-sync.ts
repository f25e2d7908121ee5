import { open } from 'node:fs/promises';

/**
 * Makes commits durable without blocking the event loop. The hot write paths commit with
 * `synchronous = NORMAL` (SQLite writes the log but does not sync it), then this syncs the log file
 * on libuv's thread pool before anyone is told the commit happened. The kernel flushes the file,
 * not a descriptor, so syncing `<db>-wal` through a descriptor of our own makes every frame SQLite
 * wrote before it durable: the guarantee of `synchronous = FULL`, while the main thread goes on
 * parsing the next batch. The file is opened anew each time: a descriptor kept open would keep
 * syncing the old file, silently, if SQLite ever replaced the log. Syncs asked for while one runs
 * share the next one.
 */
export class WalSync {
  readonly #path: string;
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;

  constructor(databasePath: string) {
    this.#path = `${databasePath}-wal`;
  }

  /** Resolves once everything committed before the call is on disk; rejects if it cannot be. */
  sync(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#syncOnce().finally(() => (this.#running = null));
      return this.#running;
    }
    // One is running: it may have started before our commit, so a fresh one follows it.
    const after = () => {
      this.#next = null;
      return this.sync();
    };
    this.#next ??= this.#running.then(after, after);
    return this.#next;
  }

  async #syncOnce(): Promise<void> {
    const handle = await open(this.#path, 'r');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** Nothing is held between syncs; kept so owners can close it like their other resources. */
  async close(): Promise<void> {
    await this.#running?.catch(() => {});
  }
}
