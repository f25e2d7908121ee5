/**
 * Live dashboard updates across processes: three evosync processes (the built binary, as child
 * processes) on one PostgreSQL ledger. B takes every webhook (Evolution's simulator points there),
 * so the other two only learn of what arrives through the cluster's channels:
 * - A shares B's Redis: its dashboard stream hears of B's work within the coalescing window, with
 *   its ledger poll set to five minutes, so nothing else could have told it;
 * - C points at a Redis that is not there (a closed port): it polls the ledger every second, and
 *   its dashboard still follows, just later, and says it is in the slower mode.
 */
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim } from '../../sim/evolution/index.js';
import { cleanups, until } from '../helpers/lifecycle.js';
import { EvosyncProcess, freePort } from '../helpers/evosync-process.js';
import { createTestDatabase, postgresAvailable, REDIS_URL, redisAvailable } from '../helpers/services.js';
import { SseClient } from '../helpers/sse.js';

const WEBHOOK_TOKEN = 'live-pg-webhook-token-0123456789';
const USER = 'operator';
const PASSWORD = 'live-pg-dashboard-password';
const MESSAGES = 12;

const cleanup = cleanups();
const available = (await postgresAvailable()) && (await redisAvailable());

/** A form login as a browser posts it (same origin, no Origin header), returning the session cookie. */
function login(base: string): Promise<string> {
  const body = new URLSearchParams({ user: USER, password: PASSWORD }).toString();
  return new Promise((resolve, reject) => {
    const req = request(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      const m = /evosync_session=([^;]+)/.exec(String(res.headers['set-cookie'] ?? ''));
      if (m) resolve(`evosync_session=${m[1]}`);
      else reject(new Error(`login to ${base} failed: ${res.statusCode}`));
    });
    req.on('error', reject);
    req.end(body);
  });
}

type Change = { via: string[]; changes: Record<string, Record<string, number>> };
const changes = (s: SseClient): Change[] => s.events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data) as Change);
const fragment = async (base: string, cookie: string) => (await fetch(`${base}/live/overview`, { headers: { cookie } })).text();
const deliveredOf = (html: string) => Number(/data-stat="delivered"><b>([\d,]+)<\/b>/.exec(html)?.[1]?.replace(/,/g, '') ?? NaN);

describe.skipIf(!available)('dashboard live updates across processes (PostgreSQL + Redis)', () => {
  it('a process hears of another\'s work through Redis within the coalescing window, and through the ledger poll without Redis', async () => {
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const tag = randomBytes(3).toString('hex');
    const instance = `live_${tag}`;
    const cw = await createChatwootSim({ seed: 51 });
    cleanup.push(() => cw.close());
    const evo = await createEvolutionSim({ seed: 51, instances: [instance] });
    cleanup.push(() => evo.close());
    const env = {
      EVOSYNC_DATABASE_URL: db.url,
      CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN, EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RECONCILE_INTERVAL_MS: '0',
      EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: PASSWORD, EVOSYNC_LOG_LEVEL: 'warn',
      EVOSYNC_REDIS_URL: REDIS_URL, EVOSYNC_REDIS_PREFIX: `evosync-live-${tag}:`,
    };
    const b = new EvosyncProcess(env, await freePort());
    const a = new EvosyncProcess({ ...env, EVOSYNC_DASHBOARD_POLL_MS: '300000' }, await freePort());
    const c = new EvosyncProcess({ ...env, EVOSYNC_REDIS_URL: `redis://127.0.0.1:${await freePort()}`, EVOSYNC_DASHBOARD_POLL_MS: '1000' }, await freePort());
    cleanup.push(() => b.kill9(), () => a.kill9(), () => c.kill9());
    await b.start(); // migrates the ledger
    await Promise.all([a.start(), c.start()]);

    const [cookieA, cookieC] = await Promise.all([login(a.url), login(c.url)]);
    const streamA = await SseClient.open(`${a.url}/live`, { cookie: cookieA });
    const streamC = await SseClient.open(`${c.url}/live`, { cookie: cookieC });
    cleanup.push(async () => streamA.close(), async () => streamC.close());
    expect(streamA.status).toBe(200);
    await streamA.waitFor('mode', (d) => (d as { mode: string }).mode === 'cluster');
    await streamC.waitFor('mode', (d) => (d as { mode: string }).mode === 'ledger' && (d as { ledgerPollMs: number }).ledgerPollMs === 1000);
    // C's first ledger reading is reported too (its page is older than it); later ones only on a difference.
    await streamC.waitFor('change', (d) => (d as Change).via.includes('ledger'), 8000);

    // 1. B alone learns that the instance connected (no delivery involved, nobody else ingests).
    evo.setWebhook(instance, { url: `${b.url}/webhooks/evolution`, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } });
    const seenA = streamA.events.length;
    const seenC = streamC.events.length;
    const connectedAt = Date.now();
    await evo.setConnection(instance, 'open');
    const viaRedis = await streamA.waitFor('change', (d) => (d as Change).changes[instance]?.['connection'] !== undefined, 5000, seenA);
    const viaLedger = await streamC.waitFor('change', (d) => (d as Change).via.includes('ledger'), 8000, seenC);
    const redisMs = viaRedis.at - connectedAt;
    const ledgerMs = viaLedger.at - connectedAt;
    expect(JSON.parse(viaRedis.data)).toEqual({ via: ['cluster'], changes: { [instance]: { connection: 1 } } });
    // Coalesced by B (500 ms) and pushed at once by A: far below A's five-minute poll.
    expect(redisMs).toBeLessThan(2500);
    for (const [base, cookie] of [[a.url, cookieA], [c.url, cookieC]] as const) {
      expect(await fragment(base, cookie)).toMatch(new RegExp(`data-instance="${instance}"><h3>${instance} <span class="badge ok"[^>]*>open<`));
    }

    // 2. Messages: B ingests them all; whoever delivers them, A's and C's dashboards count them.
    const sentAt = Date.now();
    await evo.run({ instance, chats: 4, messages: MESSAGES, seed: 51, kinds: { text: 1 } });
    await until('every message delivered', async () => (await b.stats()).ledger.delivered === MESSAGES, 30_000);
    const settledAt = Date.now();
    await until('A to count them', async () => deliveredOf(await fragment(a.url, cookieA)) === MESSAGES, 3000);
    const aMs = Date.now() - settledAt;
    await until('C to count them', async () => deliveredOf(await fragment(c.url, cookieC)) === MESSAGES, 5000);
    // Every arrival was B's: A heard of each through Redis, from B's published change sets.
    await until('A to hear of every arrival', () => changes(streamA).filter((ch) => ch.via.includes('cluster')).reduce((n, ch) => n + (ch.changes[instance]?.['received'] ?? 0), 0) === MESSAGES, 3000);
    // C never had Redis: what it pushed came from its own deliveries and its ledger reads.
    expect(changes(streamC).every((ch) => ch.via.every((v) => v === 'local' || v === 'ledger'))).toBe(true);
    expect(changes(streamC).some((ch) => ch.via.includes('ledger'))).toBe(true);
    // C says why it is slower: ready, but degraded (Redis), as before.
    const ready = (await (await fetch(`${c.url}/readyz`)).json()) as { status: string; degraded?: string[] };
    expect(ready.status).toBe('degraded');
    console.info('live updates across processes', { redisMs, ledgerMs, aCountsMsAfterSettled: aMs, deliveryMs: settledAt - sentAt });

    // The streams end when their process stops, which does not wait on them (nor on a Redis that
    // never answered): well within the 10 s shutdown grace.
    const stoppingAt = Date.now();
    await Promise.all([a.stop(), c.stop()]);
    expect(Date.now() - stoppingAt).toBeLessThan(8000);
    await until('the streams to end', () => streamA.ended && streamC.ended, 5000);
  }, 90_000);
});
