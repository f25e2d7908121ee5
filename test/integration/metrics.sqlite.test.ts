import { describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { has, value } from '../helpers/prom.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { cleanups } from '../helpers/lifecycle.js';

const TOKEN = 'metrics-webhook-token-0123456789';
const INSTANCE = 'mx';

const cleanup = cleanups();

async function start(chatwootUrl: string, extra: Record<string, string> = {}): Promise<Evosync> {
  const app = await createEvosync(
    loadConfig({
      EVOSYNC_DATABASE_URL: tempSqliteUrl(),
      CHATWOOT_URL: chatwootUrl, CHATWOOT_API_TOKEN: 't', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1',
      EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_LOG_LEVEL: 'silent', ...extra,
    }),
    { logger: createLogger('silent') },
  );
  cleanup.push(() => app.stop());
  return app;
}

let seq = 0;
const item = (id: string, chat: string) => ({
  key: { remoteJid: `${chat}@s.whatsapp.net`, fromMe: false, id },
  pushName: 'Ana', message: { conversation: `text ${id}` }, messageType: 'conversation', messageTimestamp: 1729512000 + ++seq,
});
const envelope = (event: string, data: unknown) => ({ event, instance: INSTANCE, destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null, data });

const post = (app: Evosync, body: unknown) =>
  app.server.inject({ method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

async function scrape(app: Evosync): Promise<string> {
  const r = await app.server.inject({ method: 'GET', url: '/metrics' });
  expect(r.statusCode).toBe(200);
  return r.body;
}

/** Scrape until `ok` holds: gauges read the ledger through a 1 s cache, and delivery is asynchronous. */
async function until(app: Evosync, what: string, ok: (text: string) => boolean, timeoutMs = 8000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await scrape(app);
    if (ok(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${text.split('\n').filter((l) => l.startsWith('evosync_')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GET /metrics', () => {
  it('counts ingest by outcome: inserted exactly once, duplicates, refusals by code, ignored events', async () => {
    // Nothing listens on port 9: delivery pauses, so every inserted message stays pending.
    const app = await start('http://127.0.0.1:9');
    const r = await app.server.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200); // no token needed
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const t0 = r.body;
    expect(value(t0, 'evosync_ingested_total')).toBe(0);
    expect(has(t0, 'nodejs_eventloop_lag_seconds')).toBe(true);
    expect(has(t0, 'process_cpu_user_seconds_total')).toBe(true);

    const bodies = [
      envelope('messages.upsert', item('M1', '5511999990001')),
      envelope('messages.upsert', [item('M2', '5511999990001'), item('M3', '5511999990002')]),
      envelope('messages.upsert', item('M1', '5511999990001')),
      envelope('messages.upsert', [item('M2', '5511999990001'), item('M4', '5511999990003')]),
      envelope('send.message', { ...item('S1', '5511999990002'), key: { remoteJid: '5511999990002@s.whatsapp.net', fromMe: true, id: 'S1' } }),
    ];
    let accepted = 0;
    let duplicates = 0;
    for (const b of bodies) {
      const res = await post(app, b);
      expect(res.statusCode).toBe(200);
      accepted += res.json().accepted as number;
      duplicates += res.json().duplicates as number;
    }
    expect([accepted, duplicates]).toEqual([5, 2]);

    expect((await post(app, envelope('messages.upsert', { ...item('B1', '5511999990001'), messageTimestamp: 'soon' }))).statusCode).toBe(400);
    expect((await post(app, '{"event": ')).statusCode).toBe(400);
    expect((await post(app, { event: 'presence.update', instance: INSTANCE, data: { id: 'x' } })).statusCode).toBe(200);
    expect((await post(app, envelope('connection.update', { instance: INSTANCE, state: 'open', statusReason: 200 }))).statusCode).toBe(200);

    const t1 = await scrape(app);
    expect(value(t1, 'evosync_ingested_total')).toBe(accepted);
    expect(value(t1, 'evosync_ingested_total', { source: 'webhook', event: 'messages.upsert' })).toBe(4);
    expect(value(t1, 'evosync_ingested_total', { source: 'webhook', event: 'send.message' })).toBe(1);
    expect(value(t1, 'evosync_ingest_duplicates_total', { source: 'webhook' })).toBe(duplicates);
    expect(value(t1, 'evosync_refused_total', { source: 'webhook', code: 'PAYLOAD_INVALID' })).toBe(1);
    expect(value(t1, 'evosync_refused_total', { source: 'webhook', code: 'PAYLOAD_NOT_JSON' })).toBe(1);
    expect(value(t1, 'evosync_ignored_total', { source: 'webhook' })).toBe(1);
    expect(value(t1, 'evosync_instance_connected', { instance: INSTANCE })).toBe(1);
    expect(value(t1, 'evosync_upstream_up', { upstream: 'database' })).toBe(1);
    expect(has(t1, 'evosync_upstream_up', { upstream: 'rabbitmq' })).toBe(false); // not configured
    // Cardinality: no chat, phone or message id ever becomes a label value.
    expect(t1).not.toMatch(/5511999990001|M1|S1/);

    await post(app, envelope('connection.update', { instance: INSTANCE, state: 'close', statusReason: 401 }));
    // Each ledger-backed gauge has its own 1 s cache: wait until both show the backlog.
    const t2 = await until(app, 'backlog gauges', (t) => value(t, 'evosync_messages', { state: 'pending' }) === 5 && value(t, 'evosync_oldest_pending_age_seconds') > 0);
    expect(value(t2, 'evosync_instance_connected', { instance: INSTANCE })).toBe(0);
    // Counters do not move on a scrape.
    expect(value(t2, 'evosync_ingested_total')).toBe(accepted);
  });

  it('follows delivery into the fake Chatwoot, an outage (upstream down, backlog, pauses) and the recovery', async () => {
    const cw: ChatwootSim = await createChatwootSim({ seed: 11 });
    cleanup.push(() => cw.close());
    const app = await start(cw.url, {
      CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '50', EVOSYNC_API_TOKEN: 'metrics-test-api-token',
    });
    const delivered = (t: string) => value(t, 'evosync_deliveries_total', { direction: 'to_chatwoot', outcome: 'delivered' });
    const t0 = await scrape(app);
    expect(delivered(t0)).toBe(0);
    expect(has(t0, 'evosync_deliveries_total', { outcome: 'dead' })).toBe(true); // exists at 0, so increase() sees the first

    for (let i = 0; i < 5; i++) expect((await post(app, envelope('messages.upsert', item(`D${i}`, `55119888800${i % 2}`)))).statusCode).toBe(200);
    // The ledger-backed gauges read through 1 s caches (one each): wait for them to catch up.
    const drained = (t: string, n: number) => value(t, 'evosync_messages', { state: 'delivered' }) === n && value(t, 'evosync_oldest_pending_age_seconds') === 0;
    const t1 = await until(app, '5 deliveries', (t) => delivered(t) === 5 && drained(t, 5));
    expect(value(t1, 'evosync_delivery_latency_seconds_count', { direction: 'to_chatwoot' })).toBe(5);
    expect(value(t1, 'evosync_delivery_latency_seconds_sum')).toBeGreaterThan(0);
    expect(value(t1, 'evosync_delivery_attempts_total', { direction: 'to_chatwoot' })).toBe(5);
    expect(value(t1, 'evosync_delivery_duration_seconds_count')).toBe(5);
    expect(value(t1, 'evosync_upstream_up', { upstream: 'chatwoot' })).toBe(1);
    expect(value(t1, 'evosync_messages', { state: 'pending' })).toBe(0);
    expect(has(t1, 'evosync_lanes_in_flight')).toBe(true);

    cw.setFaults({ outage: true });
    // Known chats: the only request is the create, cut mid-flight, so each may have landed.
    for (let i = 0; i < 3; i++) await post(app, envelope('messages.upsert', item(`O${i}`, `55119888800${i % 2}`)));
    const t2 = await until(app, 'chatwoot down', (t) => value(t, 'evosync_upstream_up', { upstream: 'chatwoot' }) === 0);
    expect(delivered(t2)).toBe(5);
    // Every request of an outage dies mid-flight: counted retries until the breaker opens, then pauses.
    expect(value(t2, 'evosync_deliveries_total', { outcome: 'retry' })).toBeGreaterThan(0);
    // The failure that paused the upstream is counted once its outcome is committed, a moment after
    // the gauge above fell: waited for, not assumed (a loaded machine once read the counter first).
    const t3 = await until(app, 'backlog visible, pause counted', (t) => value(t, 'evosync_messages', { state: 'pending' }) === 3 && value(t, 'evosync_oldest_pending_age_seconds') > 0 && value(t, 'evosync_deliveries_total', { outcome: 'paused' }) > 0);
    expect(value(t3, 'evosync_deliveries_total', { outcome: 'paused' })).toBeGreaterThan(0);

    cw.setFaults({ outage: false });
    const t4 = await until(app, 'recovery', (t) => delivered(t) === 8 && drained(t, 8), 15_000);
    expect(value(t4, 'evosync_messages', { state: 'pending' })).toBe(0);
    expect(value(t4, 'evosync_upstream_up', { upstream: 'chatwoot' })).toBe(1);
    expect(value(t4, 'evosync_delivery_latency_seconds_count')).toBe(8);
    expect(value(t4, 'evosync_deliveries_total', { outcome: 'dead' })).toBe(0);
    // A request cut mid-flight may have landed: it is looked up before it is sent again.
    expect(value(t4, 'evosync_delivery_lookups_total', { result: 'not_found' })).toBeGreaterThan(0);
    const stats = (await app.server.inject({ method: 'GET', url: '/api/stats', headers: { authorization: 'Bearer metrics-test-api-token' } })).json();
    expect(value(t4, 'evosync_delivery_lookups_total', { result: 'found' })).toBe(stats.delivery.recovered);
    expect(cw.snapshot().messages.filter((m) => m.source_id?.startsWith('WAID:'))).toHaveLength(8);
  });
});
