import { describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim } from '../../sim/evolution/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { value } from '../helpers/prom.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { alertReceiver, statuses } from './alerts-receiver.js';
import { cleanups } from '../helpers/lifecycle.js';

const TOKEN = 'alerts-webhook-token-0123456789';
const API_TOKEN = 'alerts-api-token-0123456789';
const INSTANCE = 'al';

const cleanup = cleanups();

async function start(env: Record<string, string>): Promise<Evosync> {
  const app = await createEvosync(
    loadConfig({
      EVOSYNC_DATABASE_URL: tempSqliteUrl(), EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_API_TOKEN: API_TOKEN, EVOSYNC_LOG_LEVEL: 'silent',
      EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '50', EVOSYNC_ALERT_INTERVAL_MS: '100', EVOSYNC_ALERT_AFTER_MS: '0',
      EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0',
      ...env,
    }),
    { logger: createLogger('silent') },
  );
  cleanup.push(() => app.stop());
  return app;
}

const cwEnv = (cw: ChatwootSim, token = cw.token) => ({ CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId) });

let seq = 0;
const item = (id: string, chat: string) => ({
  key: { remoteJid: `${chat}@s.whatsapp.net`, fromMe: false, id },
  pushName: 'Ana', message: { conversation: `text ${id}` }, messageType: 'conversation', messageTimestamp: 1729512000 + ++seq,
});
const envelope = (data: unknown) => ({ event: 'messages.upsert', instance: INSTANCE, destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null, data });
async function post(app: Evosync, id: string, chat: string): Promise<void> {
  const r = await app.server.inject({ method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify(envelope(item(id, chat))) });
  expect(r.statusCode).toBe(200);
}

async function metricsText(app: Evosync): Promise<string> {
  return (await app.server.inject({ method: 'GET', url: '/metrics' })).body;
}

/** Several more evaluations pass with nothing new: "once" means once, not "once so far". */
const someTicks = () => new Promise((r) => setTimeout(r, 600));

describe('alerts', () => {
  it('a Chatwoot outage: delivery paused and backlog each fire once and recover once; the Chatwoot note sink catches up in order', async () => {
    const hook = await alertReceiver();
    cleanup.push(() => hook.close());
    const cw = await createChatwootSim({ seed: 21 });
    cleanup.push(() => cw.close());
    const app = await start({ ...cwEnv(cw), EVOSYNC_ALERT_WEBHOOK_URL: hook.url, EVOSYNC_ALERT_CHATWOOT: 'true', EVOSYNC_ALERT_BACKLOG_AGE_MS: '1000' });

    await post(app, 'A0', '5511977770001');
    await until(async () => (await app.ledger.counts()).delivered === 1, 'first delivery');

    // Through the control plane, as an operator's chaos run would.
    await fetch(`${cw.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outage: true }) });
    for (let i = 1; i <= 3; i++) await post(app, `A${i}`, `551197777000${i}`);
    const pausedKey = `delivery_paused:chatwoot ${cw.url}`;
    await hook.waitFor('paused and backlog firing', (all) => statuses(all, pausedKey).length === 1 && statuses(all, 'backlog').length === 1);
    await someTicks();
    expect(statuses(hook.received, pausedKey)).toEqual(['firing']);
    expect(statuses(hook.received, 'backlog')).toEqual(['firing']);
    const firing = hook.received.find((a) => a.key === pausedKey)!;
    expect(firing).toMatchObject({ alert: 'delivery_paused', status: 'firing', durationMs: null });
    expect(firing.text).toMatch(/^\[evosync FIRING\] Delivery paused: delivery to chatwoot .* is paused/);
    const backlog = hook.received.find((a) => a.key === 'backlog')!;
    expect(backlog.details).toMatchObject({ pending: 3, thresholdMs: 1000 });
    expect(backlog.details['oldestPendingAgeMs']).toBeGreaterThan(1000);
    // The note sink shares Chatwoot's fate: its failures are counted and kept for later.
    expect(value(await metricsText(app), 'evosync_alert_send_failures_total', { sink: 'chatwoot' })).toBeGreaterThan(0);
    expect(app.alerts.firing().map((f) => f.kind).sort()).toEqual(['backlog', 'delivery_paused']);

    await fetch(`${cw.url}/_sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outage: false }) });
    await hook.waitFor('both recovered', (all) => statuses(all, pausedKey).length === 2 && statuses(all, 'backlog').length === 2, 20_000);
    await someTicks();
    expect(statuses(hook.received, pausedKey)).toEqual(['firing', 'recovered']);
    expect(statuses(hook.received, 'backlog')).toEqual(['firing', 'recovered']);
    const recovered = hook.received.find((a) => a.key === pausedKey && a.status === 'recovered')!;
    expect(recovered.text).toMatch(/^\[evosync RECOVERED\] Delivery paused \(lasted .*\): delivery to chatwoot .* resumed/);
    expect(recovered.durationMs).toBeGreaterThan(0);
    expect((await app.ledger.counts()).delivered).toBe(4);

    const t = await metricsText(app);
    expect(value(t, 'evosync_alerts_fired_total', { alert: 'delivery_paused' })).toBe(1);
    expect(value(t, 'evosync_alerts_recovered_total', { alert: 'delivery_paused' })).toBe(1);
    expect(value(t, 'evosync_alerts_fired_total', { alert: 'backlog' })).toBe(1);
    expect(value(t, 'evosync_alerts_recovered_total', { alert: 'backlog' })).toBe(1);
    expect(value(t, 'evosync_alerts_firing')).toBe(0);

    // The queued notes reached Chatwoot once it was back: the same four transitions, in order,
    // as private notes of one "evosync alerts" conversation in the configured inbox.
    await until(async () => app.alerts.queued()['chatwoot'] === 0, 'notes sent');
    const snap = cw.snapshot();
    const contact = snap.contacts.find((c) => c.identifier === 'evosync-alerts');
    expect(contact?.name).toBe('evosync alerts');
    const convs = snap.conversations.filter((c) => c.contact_id === contact!.id);
    expect(convs).toHaveLength(1);
    expect(convs[0]!.inbox_id).toBe(cw.inboxId);
    const notes = snap.messages.filter((m) => m.conversation_id === convs[0]!.id);
    expect(notes.every((m) => m.private)).toBe(true);
    const order = (c: string | null) => `${/FIRING|RECOVERED/.exec(c ?? '')?.[0]} ${/Delivery paused|Delivery backlog/.exec(c ?? '')?.[0]}`;
    expect(notes.map((m) => order(m.content)).filter((x) => x.includes('paused'))).toEqual(['FIRING Delivery paused', 'RECOVERED Delivery paused']);
    expect(notes.map((m) => order(m.content)).filter((x) => x.includes('backlog'))).toEqual(['FIRING Delivery backlog', 'RECOVERED Delivery backlog']);
  }, 40_000);

  it('a bad Chatwoot token pauses delivery: the alert fires once, stays firing, and the webhook is retried after it refused', async () => {
    const hook = await alertReceiver();
    cleanup.push(() => hook.close());
    hook.failNext(2);
    const cw = await createChatwootSim({ seed: 22 });
    cleanup.push(() => cw.close());
    const app = await start({ ...cwEnv(cw, 'not-the-right-token'), EVOSYNC_ALERT_WEBHOOK_URL: hook.url });
    await post(app, 'B1', '5511966660001');
    const key = `delivery_paused:chatwoot ${cw.url}`;
    const all = await hook.waitFor('paused firing', (a) => statuses(a, key).length === 1);
    expect(all[0]!.summary).toMatch(/HTTP 401/);
    expect(hook.refused).toBe(2);
    await someTicks();
    expect(statuses(hook.received, key)).toEqual(['firing']);
    const t = await metricsText(app);
    expect(value(t, 'evosync_alert_send_failures_total', { sink: 'webhook' })).toBe(2);
    expect(value(t, 'evosync_alerts_fired_total', { alert: 'delivery_paused' })).toBe(1);
    expect(value(t, 'evosync_alerts_firing', { alert: 'delivery_paused' })).toBe(1);
    // Nothing is burnt while paused: the message waits.
    expect((await app.ledger.counts()).pending).toBe(1);
  }, 30_000);

  it('new dead messages fire once per incident and recover after the quiet period; older dead ones are not new', async () => {
    const hook = await alertReceiver();
    cleanup.push(() => hook.close());
    const cw = await createChatwootSim({ seed: 23 });
    cleanup.push(() => cw.close());
    const app = await start({ ...cwEnv(cw), EVOSYNC_ALERT_WEBHOOK_URL: hook.url, EVOSYNC_MAX_ATTEMPTS: '1', EVOSYNC_ALERT_DEAD_QUIET_MS: '1500' });
    cw.setFaults({ errorRate: 1 });
    await post(app, 'D1', '5511955550001');
    await post(app, 'D2', '5511955550002');
    await until(async () => (await app.ledger.counts()).dead === 2, 'two dead messages');
    await hook.waitFor('dead firing', (a) => statuses(a, 'dead_messages').length === 1);
    const firing = hook.received.find((a) => a.key === 'dead_messages')!;
    expect(firing.details['dead']).toBeGreaterThanOrEqual(1);
    await hook.waitFor('dead recovered', (a) => statuses(a, 'dead_messages').length === 2, 10_000);
    await someTicks();
    expect(statuses(hook.received, 'dead_messages')).toEqual(['firing', 'recovered']);
    expect(hook.received.filter((a) => a.key === 'dead_messages')[1]!.details).toMatchObject({ dead: 2 });

    // A second incident is a second alert.
    await post(app, 'D3', '5511955550003');
    await hook.waitFor('second incident', (a) => statuses(a, 'dead_messages').length === 3);
    expect(hook.received.filter((a) => a.key === 'dead_messages')[2]).toMatchObject({ status: 'firing', details: { newDead: 1, dead: 3 } });
    await app.stop();

    // A restart does not report the dead messages it finds as new.
    const hook2 = await alertReceiver();
    cleanup.push(() => hook2.close());
    const again = await createEvosync(loadConfig({
      EVOSYNC_DATABASE_URL: app.config.database.url, EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_LOG_LEVEL: 'silent', ...cwEnv(cw),
      EVOSYNC_ALERT_INTERVAL_MS: '100', EVOSYNC_ALERT_WEBHOOK_URL: hook2.url,
    }), { logger: createLogger('silent') });
    cleanup.push(() => again.stop());
    await someTicks();
    expect(hook2.received).toEqual([]);
  }, 40_000);

  it('an instance that disconnects fires once and recovers on reconnect; the reconnect reconcile that repairs the gap fires, and a clean reconcile recovers it', async () => {
    const hook = await alertReceiver();
    cleanup.push(() => hook.close());
    const cw = await createChatwootSim({ seed: 24 });
    cleanup.push(() => cw.close());
    const evo = await createEvolutionSim({ seed: 24, instances: [INSTANCE], lidConvention: '2.3.6' });
    cleanup.push(() => evo.close());
    const app = await start({ ...cwEnv(cw), EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_ALERT_WEBHOOK_URL: hook.url, EVOSYNC_ALERT_AFTER_MS: '200' });
    const address = await app.listen();
    evo.setWebhook(INSTANCE, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${TOKEN}` } });

    const now = Math.floor(Date.now() / 1000);
    await evo.publish(evo.generate({ instance: INSTANCE, chats: 3, messages: 20, seed: 41, startTimestamp: now - 400, groupRate: 0, lidRate: 0 }), { concurrency: 2 });
    const key = `instance_disconnected:${INSTANCE}`;

    // A blip shorter than EVOSYNC_ALERT_AFTER_MS is not an incident.
    await evo.setConnection(INSTANCE, 'connecting');
    await evo.setConnection(INSTANCE, 'open');
    await someTicks();
    expect(statuses(hook.received, key)).toEqual([]);

    // 401: logged out, a final close (a transient close shows only as connecting).
    await evo.setConnection(INSTANCE, 'close', { statusReason: 401 });
    const firing = await hook.waitFor('disconnected firing', (a) => statuses(a, key).length === 1);
    expect(firing.find((a) => a.key === key)).toMatchObject({ alert: 'instance_disconnected', details: { instance: INSTANCE, state: 'close', statusReason: 401 } });
    // What WhatsApp delivers meanwhile is stored by Evolution but never upserted to evosync.
    const gap = evo.generate({ instance: INSTANCE, chats: 3, messages: 10, seed: 42, startTimestamp: now - 200, groupRate: 0, lidRate: 0 });
    await someTicks();
    expect(statuses(hook.received, key)).toEqual(['firing']);

    await evo.setConnection(INSTANCE, 'open');
    const repairedKey = `reconcile_repaired:${INSTANCE}`;
    await hook.waitFor('reconnected and repaired', (a) => statuses(a, key).length === 2 && statuses(a, repairedKey).length === 1);
    const repaired = hook.received.find((a) => a.key === repairedKey)!;
    expect(repaired.details).toMatchObject({ instance: INSTANCE, trigger: 'reconnect' });
    expect(repaired.details['repaired']).toBeGreaterThan(0);
    expect(repaired.details['repaired']).toBeLessThanOrEqual(gap.length);
    await someTicks();
    expect(statuses(hook.received, key)).toEqual(['firing', 'recovered']);
    expect(statuses(hook.received, repairedKey)).toEqual(['firing']);

    const clean = await app.server.inject({ method: 'POST', url: '/api/reconcile', headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify({ instance: INSTANCE, since: '1h' }) });
    expect(clean.json()).toMatchObject({ repaired: 0 });
    await hook.waitFor('repair recovered', (a) => statuses(a, repairedKey).length === 2);
    await someTicks();
    expect(statuses(hook.received, repairedKey)).toEqual(['firing', 'recovered']);
    const t = await metricsText(app);
    expect(value(t, 'evosync_alerts_fired_total', { alert: 'instance_disconnected' })).toBe(1);
    expect(value(t, 'evosync_alerts_recovered_total', { alert: 'reconcile_repaired' })).toBe(1);
  }, 40_000);
});

async function until(ok: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
