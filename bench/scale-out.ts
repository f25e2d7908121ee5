import { randomBytes } from 'node:crypto';
import { connect } from '../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../src/ledger/sql-ledger.js';
import { freePort, startChild, stopChild, waitHttp } from './child.js';
import { ledgerRows } from './payloads.js';

export interface ScaleOutRow {
  processes: number;
  messages: number;
  perSecond: number;
  /** Throughput over the one-process figure of the same run. */
  speedup: number;
  callsPerMessage: number;
  rateLimited: number;
}

export interface ScaleOutFigures {
  latencyMs: number;
  lanesPerProcess: number;
  chats: number;
  redis: boolean;
  /** Chatwoot calls per message of the first pass, when every chat was new. */
  coldCallsPerMessage: number;
  rows: ScaleOutRow[];
}

interface SimInfo { url: string; accountId: number; inboxId: number; token: string }

/**
 * Several evosync processes side by side on one PostgreSQL ledger (and Redis, when there is one),
 * draining the same backlog into a fake Chatwoot that takes `latencyMs` to answer every call, as
 * a real one across a network does. Chatwoot's latency, not evosync's CPU, is what bounds one
 * process there, so this is the regime scale-out is for: lanes per process are kept small enough
 * (`lanesPerProcess`) that three processes do not saturate this machine's two cores. The fake's
 * Rack::Attack is off and evosync's own limiter with it (`EVOSYNC_CHATWOOT_RATE_LIMIT=0`): at
 * Chatwoot's real 3,000 requests a minute every row would read 50 msg/s.
 */
export async function benchScaleOut(databaseUrl: string, redisUrl: string | null, opts: { messages: number; chats: number; latencyMs: number; lanesPerProcess: number; processes: number[] }): Promise<ScaleOutFigures> {
  const simProc = await startChild('dist/sim/chatwoot/main.js', ['--seed', '9']);
  const sim = JSON.parse(simProc.firstLine) as SimInfo;
  const prefix = `evosync-bench-${randomBytes(4).toString('hex')}:`;
  try {
    await fetch(`${sim.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: opts.latencyMs }) });
    const conn = await connect(databaseUrl);
    await migrateLedger(conn);
    await conn.close();
    const env = (port: number): Record<string, string> => ({
      EVOSYNC_DATABASE_URL: databaseUrl, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_LOG_LEVEL: 'error',
      CHATWOOT_URL: sim.url, CHATWOOT_API_TOKEN: sim.token, CHATWOOT_ACCOUNT_ID: String(sim.accountId), CHATWOOT_INBOX_ID: String(sim.inboxId),
      EVOSYNC_WEBHOOK_TOKEN: 'bench-webhook-token-0123456789', EVOSYNC_API_TOKEN: 'bench-api-token-0123456789', EVOSYNC_DELIVERY_CONCURRENCY: String(opts.lanesPerProcess),
      EVOSYNC_CHATWOOT_RATE_LIMIT: '0', EVOSYNC_ORDER_WINDOW_MS: '0',
      ...(redisUrl ? { EVOSYNC_REDIS_URL: redisUrl, EVOSYNC_REDIS_PREFIX: prefix } : {}),
    });

    // Every chat once, by one process: contacts and conversations exist before the measured passes.
    let next = 0;
    const cold = await pass(databaseUrl, sim, env, next, opts.chats, opts.chats, 1);
    next += opts.chats;
    const rows: ScaleOutRow[] = [];
    for (const processes of opts.processes) {
      const r = await pass(databaseUrl, sim, env, next, opts.messages, opts.chats, processes);
      next += opts.messages;
      const base = rows[0]?.perSecond ?? r.perSecond;
      rows.push({ processes, messages: opts.messages, perSecond: r.perSecond, speedup: r.perSecond / base, callsPerMessage: r.calls / opts.messages, rateLimited: r.rateLimited });
    }
    return { latencyMs: opts.latencyMs, lanesPerProcess: opts.lanesPerProcess, chats: opts.chats, redis: redisUrl !== null, coldCallsPerMessage: cold.calls / opts.chats, rows };
  } finally {
    await stopChild(simProc.child);
  }
}

async function pass(
  databaseUrl: string, sim: SimInfo, env: (port: number) => Record<string, string>, from: number, n: number, chats: number, processes: number,
): Promise<{ perSecond: number; calls: number; rateLimited: number }> {
  const conn = await connect(databaseUrl);
  const ledger = new SqlLedger(conn);
  const rows = ledgerRows(from, n, chats);
  const firstId = (await conn.db.selectFrom('messages').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst())?.id ?? 0;
  // Inserted before any process starts: all of them find the same backlog at once.
  for (let i = 0; i < rows.length; i += 500) await ledger.insertMessages(rows.slice(i, i + 500), Date.now());
  await ledger.close();
  await fetch(`${sim.url}/_sim/stats/reset`, { method: 'POST' });

  const ports = await Promise.all(Array.from({ length: processes }, () => freePort()));
  const children = await Promise.all(ports.map((port) => startChild('dist/src/bin/evosync.js', ['start'], env(port), false)));
  try {
    await Promise.all(ports.map((port) => waitHttp(`http://127.0.0.1:${port}/healthz`)));
    for (;;) {
      const stats = (await (await fetch(`http://127.0.0.1:${ports[0]}/api/stats`, { headers: { authorization: 'Bearer bench-api-token-0123456789' } })).json()) as { ledger: { pending: number } };
      if (stats.ledger.pending === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await Promise.all(children.map((c) => stopChild(c.child)));
  }
  // From the first to the last delivery of this pass: start-up is not delivery work.
  const check = await connect(databaseUrl);
  const span = await check.db
    .selectFrom('messages')
    .select((eb) => [eb.fn.min('delivered_at').as('first'), eb.fn.max('delivered_at').as('last')])
    .where('id', '>', Number(firstId))
    .executeTakeFirstOrThrow();
  await check.close();
  const seconds = Math.max(0.001, (Number(span.last) - Number(span.first)) / 1000);
  const simStats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as { requests: number; rateLimited: number };
  return { perSecond: n / seconds, calls: simStats.requests, rateLimited: simStats.rateLimited };
}
