import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { EvosyncError } from '../errors.js';
import type { Database } from './schema.js';
import { InlineBatches, type SqliteBatches } from './sqlite-batch.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { ThreadBatches } from './sqlite-writer.js';
import { Statements } from './statements.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Connection {
  db: Kysely<Database>;
  dialect: Dialect;
  /**
   * SQLite only: the database handle itself, for the ledger's synchronous batch paths (see
   * sqlite-batch.ts). Used only while holding Kysely's connection, never beside it.
   */
  sqlite?: BetterSqlite3.Database;
  /** SQLite only: where the ledger's hot write transactions run (see sqlite-writer.ts). */
  batches?: SqliteBatches;
  /** Releases the process lock (SQLite) and closes the pool. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** SQLite: take the single-process lock (the service does; read-only CLI commands do not). */
  exclusive?: boolean;
  /** PostgreSQL pool size. */
  poolSize?: number;
  /**
   * SQLite: run ingest batches and delivery completions on a writer thread (sqlite-writer.ts).
   * Default: for the service's connection (`exclusive`) to a file.
   */
  writerThread?: boolean;
}

export function parseDatabaseUrl(url: string): { dialect: Dialect; target: string } {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/|\.)/, '');
    return { dialect: 'sqlite', target: path === '' ? './evosync.db' : path };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', target: url };
  throw new EvosyncError('DATABASE_URL_UNSUPPORTED', `Unsupported EVOSYNC_DATABASE_URL scheme: ${url.split(':')[0]}`);
}

export async function connect(url: string, opts: ConnectOptions = {}): Promise<Connection> {
  const { dialect, target } = parseDatabaseUrl(url);
  if (dialect === 'sqlite') return connectSqlite(target, opts.exclusive ?? false, opts.writerThread);
  return connectPostgres(target, opts.poolSize ?? 24);
}

function connectSqlite(path: string, exclusive: boolean, writerThread = exclusive): Connection {
  const memory = path === ':memory:';
  const threaded = writerThread && !memory;
  const release = exclusive && !memory ? acquireFileLock(`${resolve(path)}.lock`) : () => {};
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(path);
    // WAL lets the dashboard and CLI read while the service writes. synchronous=FULL makes a
    // commit durable before the webhook is answered or the broker acked: batching, not a weaker
    // sync mode, is what keeps it fast.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
  } catch (error) {
    release();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachedStatements(sqlite, threaded) }) });
  // The service's connection (the one that writes all day) hands its checkpoints to a worker.
  const checkpointer = exclusive && !memory ? SqliteCheckpointer.start(sqlite, path) : null;
  const inline = new InlineBatches(sqlite, db, new Statements('sqlite'));
  const batches = (threaded ? ThreadBatches.start(path, checkpointer !== null, inline) : null) ?? inline;
  return {
    db,
    dialect: 'sqlite',
    sqlite,
    batches,
    async close() {
      try {
        await batches.close();
        await checkpointer?.stop();
        await db.destroy();
      } finally {
        release();
      }
    },
  };
}

/**
 * Kysely's SQLite driver prepares every query anew; on the delivery path that was a fifth of the
 * CPU. The ledger runs a small, fixed set of statements, so prepared statements are kept (bounded:
 * multi-row inserts produce one text per row count).
 *
 * Beside a writer thread (a second connection), transactions begin IMMEDIATE: a deferred one that
 * reads and then writes fails at once with SQLITE_BUSY if the other connection committed in
 * between, where an immediate one takes the write lock first and waits its turn (busy_timeout).
 */
function cachedStatements(sqlite: BetterSqlite3.Database, immediate: boolean): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = (text: string) => {
    const source = immediate && text === 'begin' ? 'begin immediate' : text;
    let stmt = cache.get(source);
    if (!stmt) {
      stmt = sqlite.prepare(source);
      if (cache.size < 512) cache.set(source, stmt);
    }
    return stmt;
  };
  return new Proxy(sqlite, {
    get(target, prop, receiver) {
      if (prop === 'prepare') return prepare;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function connectPostgres(url: string, poolSize: number): Connection {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // bigint columns hold epoch milliseconds and ids, all far below 2^53: read them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

/**
 * One SQLite ledger, one process: two writers would both think they own every lane. The lock file
 * holds the owner's pid; a lock left by a dead process (kill -9) is taken over.
 */
function acquireFileLock(lockPath: string): () => void {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new EvosyncError('LEDGER_LOCKED', `The SQLite ledger is in use by process ${pid} (${lockPath}). Run one evosync per SQLite file, or use PostgreSQL for several processes.`);
      }
      try {
        unlinkSync(lockPath);
      } catch {
        // raced with another starter; retry
      }
    }
  }
  throw new EvosyncError('LEDGER_LOCKED', `Could not take the ledger lock ${lockPath}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
