import { Pool } from 'undici';
import { connect } from '../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../src/ledger/sql-ledger.js';
import { freePort, peakRssMiB, startChild, stopChild, waitHttp } from './child.js';
import { CpuTrace, cpuPerMessage, cpuSample, steadyStretch } from './cpu.js';
import { ledgerRows } from './payloads.js';

export interface DeliveryFigures {
  backend: string;
  messages: number;
  chats: number;
  evosyncPerSecond: number;
  rawHttpPerSecond: number;
  callsPerMessage: number;
  steadyCallsPerMessage: number;
  peakRssMiB: number | null;
  /** CPU µs per message in the measured stretch (Linux): evosync's event loop and other threads, the fake. */
  cpu: { evosync: { mainUs: number; othersUs: number } | null; fakeUs: number | null; rawClientUs: number; rawFakeUs: number | null };
}

interface SimInfo { url: string; accountId: number; inboxId: number; token: string }

/** Plain HTTP message creates against the same fake Chatwoot, same concurrency: the ceiling. */
async function rawCreates(sim: SimInfo, n: number, chats: number, concurrency: number, run: string, simPid?: number): Promise<{ perSecond: number; clientUs: number; fakeUs: number | null }> {
  const pool = new Pool(sim.url, { connections: concurrency });
  const headers = { 'content-type': 'application/json', api_access_token: sim.token };
  const base = `/api/v1/accounts/${sim.accountId}`;
  const conversations: number[] = [];
  for (let c = 0; c < chats; c++) {
    const contact = await (await pool.request({ method: 'POST', path: `${base}/contacts`, headers, body: JSON.stringify({ inbox_id: sim.inboxId, name: `raw ${c}`, identifier: `raw-${run}-${c}@s.whatsapp.net`, source_id: `raw-${run}-${c}` }) })).body.json() as { payload: { contact: { id: number } } };
    const conv = await (await pool.request({ method: 'POST', path: `${base}/conversations`, headers, body: JSON.stringify({ inbox_id: sim.inboxId, contact_id: contact.payload.contact.id, source_id: `raw-${run}-${c}` }) })).body.json() as { id: number };
    conversations.push(conv.id);
  }
  let next = 0;
  // One message at a time per conversation, like evosync's lanes (and Chatwoot's ordering needs).
  const worker = async (w: number) => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const conv = conversations[(i + w) % chats];
      const r = await pool.request({ method: 'POST', path: `${base}/conversations/${conv}/messages`, headers, body: JSON.stringify({ content: `raw ${i}`, message_type: 'incoming', source_id: `WAID:raw-${run}-${i}` }) });
      await r.body.dump();
      // A refused create (the fake's flood limit, say) is fast and would inflate the ceiling.
      if (r.statusCode >= 300) throw new Error(`raw create answered ${r.statusCode}: keep under 200 messages a minute per conversation`);
    }
  };
  const t = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const fake0 = cpuSample(simPid);
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const fake = cpuPerMessage(fake0, cpuSample(simPid), n);
  await pool.close();
  return { perSecond: n / s, clientUs: (cpu.user + cpu.system) / n, fakeUs: fake ? fake.mainUs + fake.othersUs : null };
}

/**
 * Ledger → fake Chatwoot: `n` messages over `chats` chats are put in the ledger, then the built
 * service drains them into the fake Chatwoot (its own process). Measured from start to an empty
 * backlog; Chatwoot calls per delivered message are read from the fake's own request counter.
 */
export async function benchDelivery(backend: 'sqlite' | 'postgres', databaseUrl: string, n: number, chats: number, concurrency: number): Promise<DeliveryFigures> {
  const simProc = await startChild('dist/sim/chatwoot/main.js', ['--seed', '3']);
  const sim = JSON.parse(simProc.firstLine) as SimInfo;
  try {
    // The raw ceiling is limited by the conversation flood guard just like evosync: stay below it
    // by spreading the load over enough conversations (200 per minute each).
    // A first pass only warms the fake up (a cold one answers at half its speed): measured, the
    // ceiling would be understated and every ratio against it flattering.
    await rawCreates(sim, Math.min(n, 10_000), Math.min(chats, 100), concurrency, 'warm-up');
    const raw = await rawCreates(sim, n, chats, concurrency, 'measured', simProc.child.pid);
    await fetch(`${sim.url}/_sim/stats/reset`, { method: 'POST' });

    // Cold pass: every chat is new (contact and conversation look-ups). Warm pass: the same chats
    // again after a restart, links read back from the ledger: the steady state of a running desk.
    const cold = await drainPass(databaseUrl, sim, 0, n, chats, concurrency, simProc.child.pid);
    const warm = await drainPass(databaseUrl, sim, n, n, chats, concurrency, simProc.child.pid);
    return {
      backend, messages: n, chats, evosyncPerSecond: warm.perSecond, rawHttpPerSecond: raw.perSecond,
      callsPerMessage: cold.calls / n, steadyCallsPerMessage: warm.calls / n, peakRssMiB: Math.max(cold.peak ?? 0, warm.peak ?? 0) || null,
      cpu: { evosync: warm.cpu, fakeUs: warm.fakeUs, rawClientUs: raw.clientUs, rawFakeUs: raw.fakeUs },
    };
  } finally {
    await stopChild(simProc.child);
  }
}

interface Pass {
  perSecond: number;
  calls: number;
  peak: number | null;
  /** CPU per message between 10% and 90% of the pass delivered. */
  cpu: { mainUs: number; othersUs: number } | null;
  fakeUs: number | null;
}

async function drainPass(databaseUrl: string, sim: SimInfo, from: number, n: number, chats: number, concurrency: number, simPid?: number): Promise<Pass> {
  const conn = await connect(databaseUrl);
  await migrateLedger(conn);
  const ledger = new SqlLedger(conn);
  const rows = ledgerRows(from, n, chats);
  for (let i = 0; i < rows.length; i += 500) await ledger.insertMessages(rows.slice(i, i + 500), Date.now());
  await ledger.close();
  await fetch(`${sim.url}/_sim/stats/reset`, { method: 'POST' });

  const port = await freePort();
  const evo = await startChild('dist/src/bin/evosync.js', ['start'], {
    EVOSYNC_DATABASE_URL: databaseUrl, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_LOG_LEVEL: 'error',
    // The fake Chatwoot runs without Rack::Attack here: evosync need not keep to its 3,000 a minute.
    EVOSYNC_CHATWOOT_RATE_LIMIT: '0',
    CHATWOOT_URL: sim.url, CHATWOOT_API_TOKEN: sim.token, CHATWOOT_ACCOUNT_ID: String(sim.accountId), CHATWOOT_INBOX_ID: String(sim.inboxId),
    EVOSYNC_WEBHOOK_TOKEN: 'bench-webhook-token-0123456789', EVOSYNC_API_TOKEN: 'bench-api-token-0123456789', EVOSYNC_DELIVERY_CONCURRENCY: String(concurrency),
  }, false);
  await waitHttp(`http://127.0.0.1:${port}/healthz`);
  let peak: number | null = null;
  const trace = new CpuTrace({ evosync: evo.child.pid, fake: simPid });
  // Done when no row is pending, asked four times a second with a one-row read: counting the
  // pending rows every few milliseconds took a share of the cores being measured.
  const watch = await connect(databaseUrl);
  try {
    for (;;) {
      peak = Math.max(peak ?? 0, (await peakRssMiB(evo.child.pid!)) ?? 0);
      const left = await watch.db.selectFrom('messages').select('id').where('state', '=', 'pending').limit(1).executeTakeFirst();
      if (!left) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    trace.stop();
    await watch.close();
  }
  await stopChild(evo.child);
  // Throughput from the first to the last delivery, read from the ledger: process start-up
  // (module loading, migrations) is not delivery work. CPU over the 10%–90% stretch.
  const check = await connect(databaseUrl);
  const done = await check.db.selectFrom('messages').select('delivered_at').where('id', '>', from).where('delivered_at', 'is not', null).execute();
  await check.close();
  const times = done.map((r) => Number(r.delivered_at));
  const seconds = Math.max(0.001, (times.reduce((a, b) => Math.max(a, b), 0) - times.reduce((a, b) => Math.min(a, b), Infinity)) / 1000);
  const steady = steadyStretch(trace, times);
  const fake = steady?.cpu['fake'] ?? null;
  const simStats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as { requests: number };
  return { perSecond: n / seconds, calls: simStats.requests, peak, cpu: steady?.cpu['evosync'] ?? null, fakeUs: fake ? fake.mainUs + fake.othersUs : null };
}
