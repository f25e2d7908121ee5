import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type AmqpIngestFigures, benchAmqpIngest } from './amqp-ingest.js';
import { benchDelivery, type DeliveryFigures } from './delivery.js';
import { benchBacklog, type BacklogFigures } from './backlog.js';
import { benchIngest, type IngestFigures } from './ingest.js';
import { benchLatency, type LatencyFigures } from './latency.js';
import { formatCpu } from './cpu.js';
import { spliceIntoReadme } from './readme.js';
import { benchReconcile, type ReconcileFigures } from './reconcile.js';
import { benchScaleOut, type ScaleOutFigures } from './scale-out.js';

/**
 * `npm run bench`: every figure beside its raw limit measured in the same run, because the
 * machine is shared and noisy — ratios are comparable across runs, absolute numbers are not.
 * Writes bench-results/latest.{json,md} and prints the markdown table.
 */
const PG_URL = process.env['EVOSYNC_BENCH_PG_URL'] ?? process.env['EVOSYNC_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env['BENCH_MESSAGES'] ?? 20_000);
const AMQP_URL = process.env['EVOSYNC_BENCH_AMQP_URL'] ?? process.env['EVOSYNC_TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const AMQP_MEMORY_N = Number(process.env['BENCH_AMQP_MEMORY_MESSAGES'] ?? 100_000);
/** A broker drains 20,000 messages in well under a second: long enough a run that polling and start-up are noise. */
const AMQP_N = Number(process.env['BENCH_AMQP_MESSAGES'] ?? 100_000);
/** Rounds of the RabbitMQ comparison; the median round is reported (see amqp-ingest.ts). */
const AMQP_ROUNDS = Number(process.env['BENCH_AMQP_ROUNDS'] ?? 3);
const RECONCILE_N = Number(process.env['BENCH_RECONCILE_MESSAGES'] ?? 100_000);
const BACKLOG_N = Number(process.env['BENCH_BACKLOG_MESSAGES'] ?? 1_000_000);
/** `BENCH_ONLY=delivery,amqp` runs a subset while working on one path; the report files are kept for full runs. */
const ONLY = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim()).filter(Boolean) ?? null;
const wanted = (part: 'ingest' | 'delivery' | 'amqp' | 'reconcile' | 'latency' | 'scale' | 'backlog') => ONLY === null || ONLY.includes(part);
const BACKENDS = process.env['BENCH_BACKENDS']?.split(',') ?? ['sqlite', 'postgres'];
const withPg = BACKENDS.includes('postgres');
const REDIS_URL = process.env['EVOSYNC_BENCH_REDIS_URL'] ?? process.env['EVOSYNC_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SCALE_N = Number(process.env['BENCH_SCALE_MESSAGES'] ?? 6_000);
const SCALE_LANES = Number(process.env['BENCH_SCALE_LANES'] ?? 8);

async function redisReachable(url: string): Promise<boolean> {
  const { Redis } = await import('ioredis');
  const c = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

async function freshPg(): Promise<string | null> {
  const name = `evosync_bench_${Date.now()}`;
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query(`create database ${name}`);
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    return u.toString();
  } catch (error) {
    console.warn(`PostgreSQL unavailable (${(error as Error).message}); PostgreSQL figures skipped`);
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

const sqliteUrl = () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'evosync-bench-')), 'ledger.db')}`;
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const us = (x: number | null) => (x === null ? '–' : String(Math.round(x)));

async function main(): Promise<void> {
  const ingest: IngestFigures[] = [];
  const delivery: DeliveryFigures[] = [];
  const withSqlite = BACKENDS.includes('sqlite');
  if (wanted('ingest')) {
    if (withSqlite) ingest.push(await benchIngest('sqlite', sqliteUrl(), N, 64));
    const pgIngest = withPg ? await freshPg() : null;
    if (pgIngest) ingest.push(await benchIngest('postgres', pgIngest, N, 64));
  }
  // Long enough that start-up (JIT, the fake's own warm-up) is a small part of either figure.
  const dN = Number(process.env['BENCH_DELIVERY_MESSAGES'] ?? 40_000);
  // 100 messages per chat: below the fake's (and Chatwoot's) 200 a minute per conversation.
  const dChats = Math.max(100, Math.ceil(dN / 100));
  if (wanted('delivery')) {
    if (withSqlite) delivery.push(await benchDelivery('sqlite', sqliteUrl(), dN, dChats, 32));
    const pgDelivery = withPg ? await freshPg() : null;
    if (pgDelivery) delivery.push(await benchDelivery('postgres', pgDelivery, dN, dChats, 32));
  }
  const amqpIngest: AmqpIngestFigures[] = [];
  if (wanted('amqp')) {
    try {
      if (withSqlite) amqpIngest.push(await benchAmqpIngest('sqlite', sqliteUrl(), sqliteUrl(), AMQP_URL, AMQP_N, AMQP_MEMORY_N, AMQP_ROUNDS));
      const pgAmqp = withPg ? await freshPg() : null;
      if (pgAmqp) amqpIngest.push(await benchAmqpIngest('postgres', pgAmqp, null, AMQP_URL, AMQP_N, 0, AMQP_ROUNDS));
    } catch (error) {
      console.warn(`RabbitMQ ingest figures skipped: ${(error as Error).message}`);
    }
  }
  const reconcile: ReconcileFigures[] = [];
  if (wanted('reconcile')) {
    if (withSqlite) reconcile.push(await benchReconcile('sqlite', sqliteUrl(), RECONCILE_N, 1000));
    const pgReconcile = withPg ? await freshPg() : null;
    if (pgReconcile) reconcile.push(await benchReconcile('postgres', pgReconcile, RECONCILE_N, 1000));
  }

  let scale: ScaleOutFigures | null = null;
  if (wanted('scale')) {
    // Several processes need the PostgreSQL ledger (SQLite is one process by design).
    const pgScale = await freshPg();
    if (pgScale) {
      const redis = (await redisReachable(REDIS_URL)) ? REDIS_URL : null;
      if (!redis) console.warn(`Redis unavailable at ${REDIS_URL}; the scale-out part runs without it`);
      scale = await benchScaleOut(pgScale, redis, { messages: SCALE_N, chats: 400, latencyMs: 50, lanesPerProcess: SCALE_LANES, processes: [1, 2, 3] });
    }
  }
  const latency: LatencyFigures[] = [];
  if (wanted('latency')) {
    if (withSqlite) latency.push(await benchLatency('sqlite', sqliteUrl(), 500, 20));
    const pgLatency = withPg ? await freshPg() : null;
    if (pgLatency) latency.push(await benchLatency('postgres', pgLatency, 500, 20));
  }
  const backlog: BacklogFigures[] = [];
  if (wanted('backlog') && withSqlite) backlog.push(await benchBacklog('sqlite', sqliteUrl(), sqliteUrl(), BACKLOG_N, 20_000));

  const lines = [
    `Webhook → ledger ingest (${int(N)} messages.upsert webhooks, 64 connections, 2xx after commit; Chatwoot down)`,
    '',
    '| ledger | evosync msg/s | bare HTTP server msg/s | plain batched inserts rows/s | evosync / bare HTTP | failures |',
    '|---|---:|---:|---:|---:|---:|',
    ...ingest.map((f) => `| ${f.backend} | ${int(f.evosyncPerSecond)} | ${int(f.rawHttpPerSecond)} | ${int(f.rawInsertPerSecond)} | ${pct(f.evosyncPerSecond, f.rawHttpPerSecond)} | ${f.failures} |`),
    '',
    `Ledger → fake Chatwoot delivery (${int(dN)} messages over ${int(dChats)} chats, 32 lanes; warm pass after restart)`,
    '',
    '| ledger | evosync msg/s | plain HTTP creates msg/s (fake warmed up) | evosync / plain | Chatwoot calls per message (steady) | (cold, new chats) | peak RSS MiB |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...delivery.map((f) => `| ${f.backend} | ${int(f.evosyncPerSecond)} | ${int(f.rawHttpPerSecond)} | ${pct(f.evosyncPerSecond, f.rawHttpPerSecond)} | ${f.steadyCallsPerMessage.toFixed(3)} | ${f.callsPerMessage.toFixed(3)} | ${f.peakRssMiB ?? '?'} |`),
    '',
    `RabbitMQ → ledger ingest (${int(AMQP_N)} messages.upsert from a pre-loaded quorum queue, ack after commit; Chatwoot down; steady state 10%→90%; median of ${AMQP_ROUNDS} rounds)`,
    '',
    '| ledger | evosync msg/s | plain amqplib consume+parse+ack msg/s (prefetch 500; mean of a run before and one after evosync\'s) | (before / after) | evosync / plain | every round | evosync peak RSS MiB (messages queued behind a down Chatwoot) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...amqpIngest.map((f) => `| ${f.backend} | ${int(f.evosyncPerSecond)} | ${int(f.rawPerSecond)} | ${int(f.rawRuns[0])} / ${int(f.rawRuns[1])} | ${pct(f.evosyncPerSecond, f.rawPerSecond)} | ${f.roundRatios.map((r) => `${(100 * r).toFixed(0)}%`).join(', ')} | ${f.peakRssMiB === null ? '–' : `${f.peakRssMiB} (${int(f.memoryMessages)})`} |`),
    '',
    'Where a message\'s CPU goes (µs per message between the 10% and 90% marks, Linux /proc; evosync event loop / its other threads: SQLite writer, checkpointer, GC helpers)',
    '',
    '| path | ledger | evosync µs/msg | peer µs/msg (fake Chatwoot or RabbitMQ) | plain partner µs/msg | peer µs/msg under the plain partner |',
    '|---|---|---:|---:|---:|---:|',
    ...delivery.map((f) => `| delivery | ${f.backend} | ${formatCpu(f.cpu.evosync)} | ${us(f.cpu.fakeUs)} | ${us(f.cpu.rawClientUs)} | ${us(f.cpu.rawFakeUs)} |`),
    ...amqpIngest.map((f) => `| RabbitMQ ingest | ${f.backend} | ${formatCpu(f.cpu.evosync)} | ${us(f.cpu.brokerUs)} | ${us(f.cpu.rawConsumerUs)} | ${us(f.cpu.rawBrokerUs)} |`),
    '',
    `Evolution → ledger reconcile (\`evosync reconcile\`: ${int(RECONCILE_N)} stored messages over 1,000 chats, 5% missing from the ledger, pages of 200)`,
    '',
    '| ledger | compared msg/s | plain findMessages paging msg/s | evosync / plain | missing found and repaired | seconds | peak RSS MiB |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...reconcile.map((f) => `| ${f.backend} | ${int(f.comparedPerSecond)} | ${int(f.rawMessagesPerSecond)} | ${pct(f.comparedPerSecond, f.rawMessagesPerSecond)} | ${int(f.repaired)} of ${int(f.missingBefore)} | ${f.seconds.toFixed(1)} | ${f.peakRssMiB ?? '?'} |`),
    ...(scale
      ? [
          '',
          `Scale-out: 1, 2 and 3 processes side by side on one PostgreSQL ledger${scale.redis ? ' and Redis' : ' (no Redis)'}, ${int(scale.rows[0]?.messages ?? 0)} messages over ${scale.chats} known chats each pass, fake Chatwoot answering every call in ${scale.latencyMs} ms, ${scale.lanesPerProcess} lanes per process (first pass over new chats: ${scale.coldCallsPerMessage.toFixed(2)} calls per message)`,
          '',
          '| processes | evosync msg/s | × one process | Chatwoot calls per delivered message | 429s |',
          '|---:|---:|---:|---:|---:|',
          ...scale.rows.map((r) => `| ${r.processes} | ${int(r.perSecond)} | ${r.speedup.toFixed(2)}× | ${r.callsPerMessage.toFixed(3)} | ${r.rateLimited} |`),
        ]
      : []),
    '',
    'Latency at a steady 500 msg/s (webhook → ledger → fake Chatwoot, 500 chats, 20 s; from commit to Chatwoot\'s answer, includes the ordering window)',
    '',
    '| ledger | p50 ms | p99 ms | of which ordering window ms | plain create p50 ms | plain create p99 ms | evosync adds p50 / p99 ms (beyond window and create) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...latency.map((f) => `| ${f.backend} | ${f.p50Ms.toFixed(0)} | ${f.p99Ms.toFixed(0)} | ${f.orderWindowMs} | ${f.rawP50Ms.toFixed(1)} | ${f.rawP99Ms.toFixed(1)} | ${(f.p50Ms - f.orderWindowMs - f.rawP50Ms).toFixed(0)} / ${(f.p99Ms - f.orderWindowMs - f.rawP99Ms).toFixed(0)} |`),
    '',
    `Memory with a ${int(BACKLOG_N)}-message backlog (Chatwoot down; the last 20,000 taken through the webhook while running)`,
    '',
    '| ledger | pending at the end | peak RSS MiB | same run on an empty ledger, peak RSS MiB |',
    '|---|---:|---:|---:|',
    ...backlog.map((f) => `| ${f.backend} | ${int(f.backlog)} | ${f.peakRssMiB ?? '?'} | ${f.emptyLedgerPeakRssMiB ?? '?'} |`),
  ];
  const md = lines.join('\n');
  if (ONLY !== null || BACKENDS.length < 2) {
    console.log(md);
    return;
  }
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/latest.json', JSON.stringify({ at: new Date().toISOString(), ingest, delivery, amqpIngest, reconcile, scale }, null, 2));
  writeFileSync('bench-results/latest.md', `${md}\n`);
  if (process.env['BENCH_README'] !== '0' && spliceIntoReadme('README.md', md, new Date())) console.log('README.md benchmark tables updated');
  console.log(md);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
