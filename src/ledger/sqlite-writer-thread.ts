import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { type MessageRow, type PackedCompletion, SqliteBatchCore, unpackCompletion } from './sqlite-batch.js';
import { Statements } from './statements.js';

/**
 * The writer thread of a SQLite ledger (see sqlite-writer.ts): its own connection, the same
 * pragmas as the service's, and the same synchronous batch code. Requests are served one at a
 * time in arrival order; each answer carries the request's id.
 */
export interface WriterData {
  path: string;
  /** The service's checkpoints run elsewhere (sqlite-checkpointer.ts): never inline here either. */
  checkpointsElsewhere: boolean;
}

export type WriterRequest =
  | { id: number; op: 'insert'; rows: MessageRow[]; nowMs: number; dueAtMs: number }
  | { id: number; op: 'complete'; items: PackedCompletion[] }
  | { id: number; op: 'claim'; owner: string; limit: number; nowMs: number; leaseMs: number }
  | { id: number; op: 'startLane'; instance: string; chat: string; owner: string; deadPolicy: 'skip' | 'hold'; nowMs: number }
  | { id: number; op: 'settle'; instance: string; chat: string; owner: string; deadPolicy: 'skip' | 'hold' };

export type WriterReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; message: string; code: string | null };

const port = parentPort;
if (!port) throw new Error('sqlite-writer-thread runs only as a worker thread');
const data = workerData as WriterData;
const db = new BetterSqlite3(data.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
if (data.checkpointsElsewhere) db.pragma('wal_autocheckpoint = 0');
const core = new SqliteBatchCore(db, new Statements('sqlite'));

port.on('message', (req: WriterRequest | 'stop') => {
  if (req === 'stop') {
    db.close();
    port.close();
    return;
  }
  try {
    const result = serve(req);
    port.postMessage({ id: req.id, ok: true, result } satisfies WriterReply);
  } catch (error) {
    const e = error as { message?: unknown; code?: unknown };
    port.postMessage({ id: req.id, ok: false, message: String(e.message ?? error), code: typeof e.code === 'string' ? e.code : null } satisfies WriterReply);
  }
});

function serve(req: WriterRequest): unknown {
  switch (req.op) {
    case 'insert':
      return core.insert(req.rows, req.nowMs, req.dueAtMs);
    case 'complete':
      return core.complete(req.items.map(unpackCompletion));
    case 'claim':
      return core.claim(req.owner, req.limit, req.nowMs, req.leaseMs);
    case 'startLane':
      return core.startLane(req.instance, req.chat, req.owner, req.deadPolicy, req.nowMs);
    case 'settle':
      return core.settle(req.instance, req.chat, req.owner, req.deadPolicy);
  }
}
