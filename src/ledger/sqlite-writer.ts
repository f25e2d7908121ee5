import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ClaimedLane, Completion, CompletionResult, InsertResult, LaneStart, NewMessage } from './ledger.js';
import { packCompletion, type RawCompletionResult, type RawLaneStart, type SqliteBatches, toCompletionResults, toLaneStart, toMessageRows } from './sqlite-batch.js';
import type { WriterData, WriterReply, WriterRequest } from './sqlite-writer-thread.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Rejects a request the writer thread took with it; the ledger retries it inline (see withRetry). */
export const WRITER_GONE = 'SQLITE_WRITER_GONE';

/**
 * Runs a SQLite ledger's hot write transactions — ingest batches and delivery completions — on a
 * thread of their own. A durable commit waits for the disk (fsync); done on the main thread it
 * stopped everything else meanwhile: no webhook parsed, no broker message read, no Chatwoot answer
 * handled. On its own thread the commit overlaps with that work, and requests that queue up behind
 * a commit are written together by the next one (group commit, see lib/group-commit.ts).
 *
 * Same statements, same connection settings, same results; SQLite serialises this connection's
 * transactions with the service's own (which begin IMMEDIATE, see connect.ts). If the thread cannot
 * start or dies, requests in flight fail with a retryable code and everything after goes inline.
 */
export class ThreadBatches implements SqliteBatches {
  readonly #fallback: SqliteBatches;
  #worker: Worker | null;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #closing: Promise<void> | null = null;

  private constructor(worker: Worker, fallback: SqliteBatches) {
    this.#worker = worker;
    this.#fallback = fallback;
    worker.on('message', (reply: WriterReply) => this.#answer(reply));
    worker.once('error', (error) => this.#lost(error));
    worker.once('exit', () => this.#lost(new Error('the SQLite writer thread exited')));
  }

  /** null when the compiled thread module is not there (a source checkout never built). */
  static start(path: string, checkpointsElsewhere: boolean, fallback: SqliteBatches): ThreadBatches | null {
    const file = threadModule();
    if (!file) return null;
    const worker = new Worker(file, { workerData: { path, checkpointsElsewhere } satisfies WriterData });
    // The thread keeps the process alive only while it holds a request (see #request / #answer).
    worker.unref();
    return new ThreadBatches(worker, fallback);
  }

  /** The thread while it runs (null once gone or closed): for diagnostics and tests. */
  get thread(): Worker | null {
    return this.#worker;
  }

  insert(rows: NewMessage[], nowMs: number, dueAtMs: number): Promise<InsertResult[]> {
    if (!this.#worker) return this.#fallback.insert(rows, nowMs, dueAtMs);
    return this.#request<InsertResult[]>({ op: 'insert', rows: toMessageRows(rows), nowMs, dueAtMs });
  }

  async complete(items: Completion[]): Promise<CompletionResult[]> {
    if (!this.#worker) return this.#fallback.complete(items);
    return toCompletionResults(await this.#request<RawCompletionResult[]>({ op: 'complete', items: items.map(packCompletion) }));
  }

  claim(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<ClaimedLane[]> {
    if (!this.#worker) return this.#fallback.claim(owner, limit, nowMs, leaseMs);
    return this.#request<ClaimedLane[]>({ op: 'claim', owner, limit, nowMs, leaseMs });
  }

  async startLane(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold', nowMs: number): Promise<LaneStart> {
    if (!this.#worker) return this.#fallback.startLane(instance, chat, owner, deadPolicy, nowMs);
    return toLaneStart(await this.#request<RawLaneStart>({ op: 'startLane', instance, chat, owner, deadPolicy, nowMs }));
  }

  async settle(instance: string, chat: string, owner: string, deadPolicy: 'skip' | 'hold'): Promise<void> {
    if (!this.#worker) return this.#fallback.settle(instance, chat, owner, deadPolicy);
    await this.#request<void>({ op: 'settle', instance, chat, owner, deadPolicy });
  }

  #request<T>(body: DistributiveOmit<WriterRequest, 'id'>): Promise<T> {
    const worker = this.#worker;
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.size === 0) worker?.ref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker?.postMessage({ ...body, id } as WriterRequest);
    });
  }

  #answer(reply: WriterReply): void {
    const waiter = this.#pending.get(reply.id);
    if (!waiter) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(Object.assign(new Error(reply.message), { code: reply.code ?? undefined }));
  }

  /**
   * Whatever the thread had not answered may or may not have committed; both batch kinds are
   * idempotent (inserts skip known ids, outcomes apply only to pending rows), so a retry is safe.
   */
  #lost(error: unknown): void {
    this.#worker = null;
    const reason = error instanceof Error ? error.message : String(error);
    for (const [id, w] of this.#pending) {
      this.#pending.delete(id);
      w.reject(Object.assign(new Error(`SQLite writer thread gone: ${reason}`), { code: WRITER_GONE }));
    }
  }

  /** Waits for every request sent, then stops the thread (its connection closes cleanly). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const worker = this.#worker;
      if (!worker) return;
      await Promise.allSettled([...this.#pending.keys()].map((id) => new Promise<void>((r) => {
        const w = this.#pending.get(id);
        if (!w) return r();
        this.#pending.set(id, { resolve: (v) => (w.resolve(v), r()), reject: (e) => (w.reject(e), r()) });
      })));
      this.#worker = null;
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      // Held until the thread closed its connection: a clean close leaves no log to recover.
      worker.ref();
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    })();
    return this.#closing;
  }
}

/**
 * The compiled thread module beside this one; when running from the TypeScript sources (tests),
 * the built copy under dist/, which `npm test` builds first.
 */
function threadModule(): URL | null {
  const own = import.meta.url.endsWith('.ts') ? new URL('../../dist/src/ledger/sqlite-writer-thread.js', import.meta.url) : new URL('./sqlite-writer-thread.js', import.meta.url);
  return existsSync(fileURLToPath(own)) ? own : null;
}
