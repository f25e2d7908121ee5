import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { freePort, startChild, stopChild, waitHttp } from './child.js';
import { postAll } from './load.js';
import { upsertEnvelope } from './payloads.js';

const TOKEN = 'bench-webhook-token-0123456789';

export interface IngestFigures {
  backend: string;
  messages: number;
  evosyncPerSecond: number;
  rawHttpPerSecond: number;
  rawInsertPerSecond: number;
  failures: number;
}

/** Plain inserts of the same rows, 100 per transaction, with the ledger's durability settings. */
function rawSqliteInserts(n: number): number {
  const db = new BetterSqlite3(join(mkdtempSync(join(tmpdir(), 'evosync-raw-')), 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('create table m (id integer primary key, instance text, wa_id text, chat text, payload text, unique(instance, wa_id))');
  const insert = db.prepare('insert into m (instance, wa_id, chat, payload) values (?, ?, ?, ?)');
  const tx = db.transaction((rows: string[]) => rows.forEach((p, j) => insert.run('bench', `id${j}-${p.length}-${Math.random()}`, 'chat', p)));
  const bodies = Array.from({ length: n }, (_, i) => upsertEnvelope('bench', i, 100));
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i += 100) tx(bodies.slice(i, i + 100));
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  db.close();
  return n / s;
}

async function rawPgInserts(url: string, n: number): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('create table if not exists raw_m (id bigserial primary key, instance text, wa_id text, chat text, payload text, unique(instance, wa_id))');
  const bodies = Array.from({ length: n }, (_, i) => upsertEnvelope('bench', i, 100));
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i += 100) {
    const chunk = bodies.slice(i, i + 100);
    await c.query('insert into raw_m (instance, wa_id, chat, payload) select * from unnest($1::text[], $2::text[], $3::text[], $4::text[])', [
      chunk.map(() => 'bench'), chunk.map((_, j) => `id${i + j}`), chunk.map(() => 'chat'), chunk,
    ]);
  }
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  await c.query('drop table raw_m');
  await c.end();
  return n / s;
}

/**
 * Webhook → ledger: evosync (the built service, in its own process) receives `n` webhooks from
 * `concurrency` connections, answering each only after its commit. Chatwoot is unreachable, so
 * delivery is paused and the figure is ingest alone. Beside it, in the same run: a bare HTTP
 * server on the same load, and plain batched inserts into the same database.
 */
export async function benchIngest(backend: 'sqlite' | 'postgres', databaseUrl: string, n: number, concurrency: number): Promise<IngestFigures> {
  const bodies = Array.from({ length: n }, (_, i) => upsertEnvelope('bench', i, 200));

  const raw = await startChild('dist/bench/raw-http-server.js');
  const rawUrl = (JSON.parse(raw.firstLine) as { url: string }).url;
  await postAll(rawUrl, bodies.slice(0, 2000), { concurrency }); // warm-up
  const rawHttp = await postAll(rawUrl, bodies, { concurrency });
  await stopChild(raw.child);

  const port = await freePort();
  const evo = await startChild('dist/src/bin/evosync.js', ['start'], {
    EVOSYNC_DATABASE_URL: databaseUrl, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_LOG_LEVEL: 'error',
    CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 'x', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1',
    EVOSYNC_WEBHOOK_TOKEN: TOKEN,
  }, false);
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  const warm = Array.from({ length: 1000 }, (_, i) => upsertEnvelope('warmup', i, 50));
  await postAll(`http://127.0.0.1:${port}/webhooks/evolution`, warm, { concurrency, headers: { authorization: `Bearer ${TOKEN}` } });
  const ours = await postAll(`http://127.0.0.1:${port}/webhooks/evolution`, bodies, { concurrency, headers: { authorization: `Bearer ${TOKEN}` } });
  await stopChild(evo.child);

  const rawInsert = backend === 'sqlite' ? rawSqliteInserts(n) : await rawPgInserts(databaseUrl, n);
  return { backend, messages: n, evosyncPerSecond: ours.perSecond, rawHttpPerSecond: rawHttp.perSecond, rawInsertPerSecond: rawInsert, failures: ours.failures };
}
