import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { Pool } from 'undici';
import { createEvolutionSim } from '../sim/evolution/sim.js';
import { normalizeEnvelope } from '../src/evolution/normalize.js';
import { connect } from '../src/ledger/connect.js';
import type { NewMessage } from '../src/ledger/ledger.js';
import { SqlLedger, migrateLedger } from '../src/ledger/sql-ledger.js';
import { peakRssMiB } from './child.js';

export interface ReconcileFigures {
  backend: string;
  stored: number;
  chats: number;
  /** Stored messages the ledger lacked before the run (the live path "lost" them). */
  missingBefore: number;
  compared: number;
  repaired: number;
  seconds: number;
  comparedPerSecond: number;
  /** Plain paging of the same findMessages window, nothing else: the simulator's own ceiling. */
  rawPagesPerSecond: number;
  rawMessagesPerSecond: number;
  peakRssMiB: number | null;
}

const ROOT = resolve(import.meta.dirname, '..', '..');
const INSTANCE = 'bench';
const PAGE_SIZE = 200;

/**
 * Evolution → ledger reconciliation at scale: the fake Evolution stores `n` messages over `chats`
 * chats without publishing them, the ledger already holds all but `lostShare` of them, and
 * `evosync reconcile` (the built CLI, its own process) pages through the whole window, compares
 * and commits what is missing. Reported beside plain paging of the same window.
 */
export async function benchReconcile(backend: 'sqlite' | 'postgres', databaseUrl: string, n: number, chats: number, lostShare = 0.05): Promise<ReconcileFigures> {
  const sim = await createEvolutionSim({ seed: 11, instances: [INSTANCE] });
  try {
    const startTs = Math.floor(Date.now() / 1000) - n - 60;
    const stored = sim.generate({ instance: INSTANCE, chats, messages: n, startTimestamp: startTs, seed: 5 });

    // The ledger as the live path left it: every stored message but a deterministic share.
    const conn = await connect(databaseUrl);
    await migrateLedger(conn);
    const ledger = new SqlLedger(conn);
    const every = Math.round(1 / lostShare);
    let rows: NewMessage[] = [];
    let missingBefore = 0;
    for (const [i, m] of stored.entries()) {
      if (i % every === every - 1) {
        missingBefore += 1;
        continue;
      }
      const { chat: _chat, ...row } = m as typeof m & { chat: unknown };
      const norm = normalizeEnvelope({ event: 'messages.upsert', instance: INSTANCE, data: row });
      if (norm.kind !== 'messages') continue;
      for (const message of norm.messages) rows.push({ message, direction: 'to_chatwoot', source: 'webhook' });
      if (rows.length >= 1000) {
        await ledger.insertMessages(rows, Date.now());
        rows = [];
      }
    }
    await ledger.insertMessages(rows, Date.now());
    // A bulk load just happened: give PostgreSQL the column statistics its autovacuum would
    // gather within a minute on a running ledger (without them it plans a scan of the instance).
    if (backend === 'postgres') await sql`analyze messages`.execute(conn.db);
    await ledger.close();

    const raw = await rawPaging(sim.url, sim.apiKey, startTs * 1000, Date.now());
    const since = `${Math.ceil((Date.now() / 1000 - startTs) / 3600) + 1}h`;
    const t = performance.now();
    const { out, peak } = await runCli(['reconcile', '--instance', INSTANCE, '--since', since, '--json'], {
      EVOSYNC_DATABASE_URL: databaseUrl, EVOLUTION_URL: sim.url, EVOLUTION_API_KEY: sim.apiKey, EVOSYNC_LOG_LEVEL: 'error',
      EVOSYNC_RECONCILE_PAGE_SIZE: String(PAGE_SIZE),
    });
    const seconds = (performance.now() - t) / 1000;
    const run = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { compared: number; repaired: number; durationMs: number; error: string | null };
    if (run.error) throw new Error(`reconcile stopped: ${run.error}`);
    return {
      backend, stored: n, chats, missingBefore, compared: run.compared, repaired: run.repaired, seconds,
      comparedPerSecond: run.compared / (run.durationMs / 1000), rawPagesPerSecond: raw.pages / raw.seconds, rawMessagesPerSecond: raw.messages / raw.seconds, peakRssMiB: peak,
    };
  } finally {
    await sim.close();
  }
}

/** Every page of the window, parsed and dropped: what any client must at least spend. */
async function rawPaging(url: string, apiKey: string, gteMs: number, lteMs: number): Promise<{ pages: number; messages: number; seconds: number }> {
  const pool = new Pool(url, { connections: 1 });
  const t = performance.now();
  let pages = 0;
  let messages = 0;
  for (let page = 1; ; page++) {
    const r = await pool.request({
      method: 'POST', path: `/chat/findMessages/${INSTANCE}`, headers: { apikey: apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ where: { messageTimestamp: { gte: new Date(gteMs).toISOString(), lte: new Date(lteMs).toISOString() } }, page, offset: PAGE_SIZE }),
    });
    const body = (await r.body.json()) as { messages: { pages: number; records: unknown[] } };
    pages += 1;
    messages += body.messages.records.length;
    if (page >= body.messages.pages) break;
  }
  const seconds = (performance.now() - t) / 1000;
  await pool.close();
  return { pages, messages, seconds };
}

function runCli(args: string[], env: Record<string, string>): Promise<{ out: string; peak: number | null }> {
  const nodeArgs = process.env['BENCH_CHILD_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, resolve(ROOT, 'dist/src/bin/evosync.js'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let peak: number | null = null;
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const poll = setInterval(() => {
    void peakRssMiB(child.pid!).then((p) => {
      if (p !== null) peak = Math.max(peak ?? 0, p);
    });
  }, 100);
  return new Promise((res, rej) => {
    child.once('exit', (code) => {
      clearInterval(poll);
      if (code === 0) res({ out, peak });
      else rej(new Error(`evosync reconcile exited with ${code}: ${out.slice(-500)}`));
    });
  });
}
