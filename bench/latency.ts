import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { connect } from '../src/ledger/connect.js';
import { freePort, startChild, stopChild, waitHttp } from './child.js';
import { upsertEnvelope } from './payloads.js';

export interface LatencyFigures {
  backend: string;
  ratePerSecond: number;
  messages: number;
  /** Webhook committed → Chatwoot answered the create, from the ledger's own clock. */
  p50Ms: number;
  p99Ms: number;
  /** The ordering window evosync deliberately waits before a new message may go (included above). */
  orderWindowMs: number;
  /** A plain create against the same fake Chatwoot at the same pace: the floor. */
  rawP50Ms: number;
  rawP99Ms: number;
}

interface SimInfo { url: string; accountId: number; inboxId: number; token: string }
const TOKEN = 'bench-webhook-token-0123456789';
const API_TOKEN = 'bench-api-token-0123456789';
const ORDER_WINDOW_MS = 500;
/** Chatwoot allows 200 messages per minute per conversation: 500 chats keep 500/s at 60 each. */
const CHATS = 500;

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Sends `n` requests at a steady `rate` per second (in ticks of 10 ms), never waiting on answers. */
async function paced(n: number, rate: number, send: (i: number) => Promise<void>): Promise<void> {
  const perTick = rate / 100;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  let sent = 0;
  while (sent < n) {
    const due = Math.min(n, Math.floor(((performance.now() - started) / 10) * perTick) + 1);
    while (sent < due) inflight.push(send(sent++));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(inflight);
}

/**
 * Latency evosync adds at a steady load: Evolution-shaped webhooks at `rate` per second over 500
 * chats, delivered into the fake Chatwoot; per message, the time from its commit to Chatwoot's
 * answer (ledger received_at → delivered_at). Beside it, plain creates at the same pace.
 */
export async function benchLatency(backend: 'sqlite' | 'postgres', databaseUrl: string, rate: number, seconds: number): Promise<LatencyFigures> {
  const n = rate * seconds;
  const simProc = await startChild('dist/sim/chatwoot/main.js', ['--seed', '5']);
  const sim = JSON.parse(simProc.firstLine) as SimInfo;
  try {
    const raw = await rawLatencies(sim, n, rate);
    // The fake Chatwoot runs without Rack::Attack here, so evosync's own limiter is off (0) too.
    const port = await freePort();
    const evo = await startChild('dist/src/bin/evosync.js', ['start'], {
      EVOSYNC_DATABASE_URL: databaseUrl, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_LOG_LEVEL: 'error',
      CHATWOOT_URL: sim.url, CHATWOOT_API_TOKEN: sim.token, CHATWOOT_ACCOUNT_ID: String(sim.accountId), CHATWOOT_INBOX_ID: String(sim.inboxId),
      EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_API_TOKEN: API_TOKEN, EVOSYNC_CHATWOOT_RATE_LIMIT: '0', EVOSYNC_ORDER_WINDOW_MS: String(ORDER_WINDOW_MS), EVOSYNC_RECONCILE_INTERVAL_MS: '0',
    }, false);
    try {
      await waitHttp(`http://127.0.0.1:${port}/healthz`);
      const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
      // Warm-up: every chat's contact and conversation exist before the measured run.
      const warm = Array.from({ length: CHATS }, (_, i) => upsertEnvelope('lat', i, CHATS, 1_760_000_000));
      for (const body of warm) await (await pool.request({ method: 'POST', path: '/webhooks/evolution', headers, body })).body.dump();
      await drained(port);
      await paced(n, rate, async (i) => {
        const r = await pool.request({ method: 'POST', path: '/webhooks/evolution', headers, body: upsertEnvelope('lat', CHATS + i, CHATS, 1_760_000_100) });
        await r.body.dump();
      });
      await drained(port);
      await pool.close();
    } finally {
      await stopChild(evo.child);
    }
    const conn = await connect(databaseUrl);
    const rows = await conn.db.selectFrom('messages').select(['received_at', 'delivered_at']).where('id', '>', CHATS).where('event', '=', 'messages.upsert').execute();
    await conn.close();
    const lat = rows.filter((r) => r.delivered_at != null).map((r) => Number(r.delivered_at) - Number(r.received_at)).sort((a, b) => a - b);
    return { backend, ratePerSecond: rate, messages: lat.length, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), orderWindowMs: ORDER_WINDOW_MS, rawP50Ms: raw.p50, rawP99Ms: raw.p99 };
  } finally {
    await stopChild(simProc.child);
  }
}

async function drained(port: number): Promise<void> {
  for (;;) {
    const stats = (await (await fetch(`http://127.0.0.1:${port}/api/stats`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json()) as { ledger: { pending: number } };
    if (stats.ledger.pending === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rawLatencies(sim: SimInfo, n: number, rate: number): Promise<{ p50: number; p99: number }> {
  const pool = new Pool(sim.url, { connections: 32 });
  const headers = { 'content-type': 'application/json', api_access_token: sim.token };
  const base = `/api/v1/accounts/${sim.accountId}`;
  const conversations: number[] = [];
  for (let c = 0; c < CHATS; c++) {
    const contact = (await (await pool.request({ method: 'POST', path: `${base}/contacts`, headers, body: JSON.stringify({ inbox_id: sim.inboxId, name: `lat ${c}`, identifier: `lat-${c}@s.whatsapp.net`, source_id: `lat-${c}` }) })).body.json()) as { payload: { contact: { id: number } } };
    const conv = (await (await pool.request({ method: 'POST', path: `${base}/conversations`, headers, body: JSON.stringify({ inbox_id: sim.inboxId, contact_id: contact.payload.contact.id, source_id: `lat-${c}` }) })).body.json()) as { id: number };
    conversations.push(conv.id);
  }
  const lat: number[] = [];
  await paced(n, rate, async (i) => {
    const t = performance.now();
    const r = await pool.request({ method: 'POST', path: `${base}/conversations/${conversations[i % CHATS]}/messages`, headers, body: JSON.stringify({ content: `raw ${i}`, message_type: 'incoming', source_id: `WAID:lat${i}` }) });
    await r.body.dump();
    lat.push(performance.now() - t);
  });
  await pool.close();
  lat.sort((a, b) => a - b);
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}
