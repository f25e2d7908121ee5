import { connect } from '../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../src/ledger/sql-ledger.js';
import { freePort, peakRssMiB, startChild, stopChild, waitHttp } from './child.js';
import { postAll } from './load.js';
import { ledgerRows, upsertEnvelope } from './payloads.js';

export interface BacklogFigures {
  backend: string;
  /** Messages pending in the ledger at the end (Chatwoot down the whole time). */
  backlog: number;
  /** Of which arrived through the webhook while the service ran. */
  ingestedLive: number;
  peakRssMiB: number | null;
  /** Peak RSS of the same service started on an empty ledger and given the same live part. */
  emptyLedgerPeakRssMiB: number | null;
}

const TOKEN = 'bench-webhook-token-0123456789';
const API_TOKEN = 'bench-api-token-0123456789';
const CHATS = 1000;

/**
 * Memory with a huge backlog: the ledger already holds `n - live` undelivered messages (written
 * directly, as if Chatwoot had been down for days), the service starts on it with Chatwoot still
 * down and takes `live` more through its webhook. Nothing of the backlog may be held in memory, so
 * its peak RSS is compared with the same run on an empty ledger.
 */
export async function benchBacklog(backend: 'sqlite' | 'postgres', databaseUrl: string, emptyUrl: string, n: number, live: number): Promise<BacklogFigures> {
  await prefill(databaseUrl, n - live);
  const full = await runLive(databaseUrl, live, n - live);
  const empty = await runLive(emptyUrl, live, 0);
  const conn = await connect(databaseUrl);
  const { c } = await conn.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('c')).where('state', '=', 'pending').executeTakeFirstOrThrow();
  await conn.close();
  return { backend, backlog: Number(c), ingestedLive: live, peakRssMiB: full, emptyLedgerPeakRssMiB: empty };
}

async function prefill(databaseUrl: string, count: number): Promise<void> {
  const conn = await connect(databaseUrl);
  await migrateLedger(conn);
  const ledger = new SqlLedger(conn);
  for (let from = 0; from < count; from += 5000) {
    await ledger.insertMessages(ledgerRows(from, Math.min(5000, count - from), CHATS, 'backlog'), Date.now());
  }
  await ledger.close();
}

async function runLive(databaseUrl: string, live: number, offset: number): Promise<number | null> {
  const port = await freePort();
  const evo = await startChild('dist/src/bin/evosync.js', ['start'], {
    EVOSYNC_DATABASE_URL: databaseUrl, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_LOG_LEVEL: 'error',
    // Chatwoot down: nothing drains, every lane is due and retried, the backlog only grows.
    CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 'x', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1',
    EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_API_TOKEN: API_TOKEN, EVOSYNC_RECONCILE_INTERVAL_MS: '0',
  }, false);
  let peak: number | null = null;
  const sample = setInterval(() => {
    void peakRssMiB(evo.child.pid!).then((p) => {
      if (p !== null) peak = Math.max(peak ?? 0, p);
    });
  }, 200);
  try {
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    const bodies = Array.from({ length: live }, (_, i) => upsertEnvelope('backlog', offset + i, CHATS));
    await postAll(`http://127.0.0.1:${port}/webhooks/evolution`, bodies, { concurrency: 32, headers: { authorization: `Bearer ${TOKEN}` } });
    // A few seconds of the dispatcher facing a down Chatwoot with every lane due.
    await new Promise((r) => setTimeout(r, 5000));
    await fetch(`http://127.0.0.1:${port}/api/stats`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    peak = Math.max(peak ?? 0, (await peakRssMiB(evo.child.pid!)) ?? 0);
  } finally {
    clearInterval(sample);
    await stopChild(evo.child);
  }
  return peak;
}
