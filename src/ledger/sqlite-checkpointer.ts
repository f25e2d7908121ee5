import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * Moves SQLite's WAL checkpoints off the thread that commits. A checkpoint copies the log back
 * into the database file and syncs it; run inline (SQLite's default, every 1000 pages) it blocks
 * the one thread that parses webhooks, commits batches and sends to Chatwoot, for tens of
 * milliseconds at a time. Here a worker thread with its own connection checkpoints PASSIVE-ly —
 * it never blocks a writer — and the service's connection stops checkpointing itself. If the
 * worker cannot run or dies, the connection checkpoints inline again: slower, never unbounded.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
let stopping = false;
const tick = () => {
  if (stopping) return;
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { /* busy or locked: next tick */ }
  setTimeout(tick, workerData.intervalMs);
};
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  stopping = true;
  try { db.close(); } catch (e) { /* closing anyway */ }
  parentPort.postMessage('stopped');
});
setTimeout(tick, workerData.intervalMs);
parentPort.postMessage('ready');
`;

/** SQLite's own inline default, restored when the worker is gone. */
const INLINE_PAGES = 1000;
/** After a checkpoint, the log is cut back to this size instead of keeping its largest size. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export class SqliteCheckpointer {
  readonly #worker: Worker;
  readonly #db: BetterSqlite3.Database;
  #stopped: Promise<void> | null = null;

  private constructor(worker: Worker, db: BetterSqlite3.Database) {
    this.#worker = worker;
    this.#db = db;
  }

  static start(db: BetterSqlite3.Database, path: string, intervalMs = 200): SqliteCheckpointer {
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, path, intervalMs } });
    worker.unref();
    const c = new SqliteCheckpointer(worker, db);
    db.pragma('wal_autocheckpoint = 0');
    const fallBack = () => {
      if (c.#stopped) return;
      if (db.open) db.pragma(`wal_autocheckpoint = ${INLINE_PAGES}`);
    };
    worker.once('error', fallBack);
    worker.once('exit', fallBack);
    return c;
  }

  /** Stops the worker; the connection checkpoints inline again until it closes. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      const done = () => resolve();
      this.#worker.once('exit', done);
      this.#worker.once('message', (m) => {
        if (m === 'stopped') void this.#worker.terminate().then(done, done);
      });
      this.#worker.postMessage('stop');
      setTimeout(() => void this.#worker.terminate().then(done, done), 2000).unref();
    }).then(() => {
      if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${INLINE_PAGES}`);
    });
    return this.#stopped;
  }
}
