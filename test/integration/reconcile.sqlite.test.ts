import { afterEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim, type LidConvention, type StoredMessage } from '../../sim/evolution/index.js';
import { verify } from '../../sim/verify.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';

const WEBHOOK_TOKEN = 'reconcile-webhook-token-0123456789';
const API_TOKEN = 'reconcile-api-token-0123456789';
const INSTANCE = 'rc';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  cleanup = [];
});

interface Rig {
  app: Evosync;
  evo: EvolutionSim;
  cw: ChatwootSim;
  env: Record<string, string>;
}

/** Evolution and Chatwoot simulators and an in-process evosync wired to both (no reconcile schedule). */
async function rig(opts: { convention?: LidConvention; extra?: Record<string, string> } = {}): Promise<Rig> {
  const cw = await createChatwootSim({ seed: 3 });
  cleanup.push(() => cw.close());
  const evo = await createEvolutionSim({ seed: 3, instances: [INSTANCE], lidConvention: opts.convention ?? '2.3.6' });
  cleanup.push(() => evo.close());
  const env: Record<string, string> = {
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey,
    EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN, EVOSYNC_API_TOKEN: API_TOKEN,
    EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_RECONCILE_PAGE_SIZE: '50', EVOSYNC_ORDER_WINDOW_MS: '100',
    // Receipts of fromMe messages the ledger never holds (protocol messages) wait this long, then
    // are skipped: short here, so "settled" means settled within the test's deadline.
    EVOSYNC_RECEIPT_WAIT_MS: '2000',
    EVOSYNC_LOG_LEVEL: 'silent', ...opts.extra,
  };
  const app = await createEvosync(loadConfig({ ...env, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0' }), { logger: createLogger('silent') });
  cleanup.push(() => app.stop());
  const address = await app.listen();
  evo.setWebhook(INSTANCE, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } });
  return { app, evo, cw, env };
}

async function settled(app: Evosync, atLeast: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const c = await app.ledger.counts();
    if (c.pending === 0 && c.delivered + c.skipped + c.dead >= atLeast) return;
    if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const reconcile = (app: Evosync, body: unknown, token: string | null = API_TOKEN) =>
  app.server.inject({ method: 'POST', url: '/api/reconcile', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, payload: JSON.stringify(body) });

async function verdict(r: Rig, messages: StoredMessage[]) {
  const rows = await r.app.ledger.listMessages({ instance: INSTANCE, limit: 1_000_000 });
  return verify(
    messages.map((m) => ({ instance: INSTANCE, waId: m.key.id, chat: m.canonicalJid, timestamp: m.messageTimestamp })),
    r.cw.snapshot().messages.map((m) => ({ sourceId: m.source_id, conversationId: m.conversation_id, seq: m.seq })),
    rows.map((x) => ({ waId: x.waId, receivedAt: x.receivedAt, deliveredAt: x.deliveredAt, sentAt: x.sentAt })),
  );
}

async function cli(args: string[], env: Record<string, string>): Promise<{ exitCode: number; lines: string[] }> {
  const lines: string[] = [];
  const r = await runCli(args, env, (l) => lines.push(l));
  if (r.kind !== 'done') throw new Error('unexpected running result');
  return { exitCode: r.exitCode, lines };
}

/** Messages the ledger can hold: reactions and protocol messages are skipped by the live path too. */
const deliverable = (messages: StoredMessage[]): StoredMessage[] => messages.filter((m) => m.messageType !== 'reactionMessage' && m.messageType !== 'protocolMessage');

describe('WhatsApp → Chatwoot reconciliation', () => {
  it('repairs what Evolution stored but never published; a second run repairs nothing; check reports drift before and none after', async () => {
    const r = await rig();
    const { app, evo, cw, env } = r;
    r.evo.setFaults({ dropRate: 0.05 });
    const all = evo.generate({ instance: INSTANCE, chats: 25, messages: 600, seed: 9, lidRate: 0.3, groupRate: 0.1, fromMeRate: 0.1 });
    const report = await evo.publish(all, { concurrency: 8 });
    expect(report.dropped).toBeGreaterThan(10);
    const messages = deliverable(all);
    const live = (await app.ledger.counts());
    await settled(app, live.pending + live.delivered + live.skipped);
    const before = await verdict(r, messages);
    expect(before.missing).toBeGreaterThan(0);

    // check: drift (missing in the ledger), exit 1; it changes nothing.
    const drift = await cli(['check', '--instance', INSTANCE, '--since', '2h', '--json'], env);
    expect(drift.exitCode).toBe(1);
    const driftReport = JSON.parse(drift.lines[0] ?? '{}');
    expect(driftReport.totals).toMatchObject({ missingInLedger: before.missing, missingInChatwoot: 0, duplicatedInChatwoot: 0, outOfOrder: 0 });

    // The API refuses without the token, then runs.
    expect((await reconcile(app, { instance: INSTANCE, since: '2h' }, null)).statusCode).toBe(401);
    expect((await reconcile(app, { instance: INSTANCE, since: '2h' }, 'wrong-token-wrong-token')).statusCode).toBe(401);
    expect((await reconcile(app, { instance: INSTANCE, since: 'soon' })).statusCode).toBe(400);
    const first = await reconcile(app, { instance: INSTANCE, since: '2h' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ missing: before.missing, repaired: before.missing, error: null, unusable: 0 });
    expect(first.json().pages).toBeGreaterThanOrEqual(12);
    await settled(app, messages.length);

    const after = await verdict(r, messages);
    // Repaired messages older than already-delivered ones are marked late arrivals, never misordered.
    expect(after.lateArrivals).toBeLessThanOrEqual(before.missing);
    expect(after).toMatchObject({ sent: messages.length, delivered: messages.length, missing: 0, duplicated: 0, outOfOrder: 0, splitChats: 0 });

    const second = await reconcile(app, { instance: INSTANCE, sinceMs: 7_200_000 });
    expect(second.json()).toMatchObject({ missing: 0, repaired: 0, error: null });
    expect(second.json().compared).toBe(first.json().compared);
    const runs = await app.server.inject({ method: 'GET', url: `/api/reconcile/runs?instance=${INSTANCE}`, headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(runs.json().runs.map((x: { repaired: number }) => x.repaired)).toEqual([0, before.missing]);

    const clean = await cli(['check', '--instance', INSTANCE, '--since', '2h'], env);
    expect(clean.lines.at(-1)).toMatch(/clean/);
    expect(clean.exitCode).toBe(0);

    // A copy made in Chatwoot by someone else (same source_id in the conversation) is drift too.
    const victim = (await app.ledger.listMessages({ instance: INSTANCE, state: 'delivered', limit: 1 }))[0]!;
    const dup = await fetch(`${cw.url}/api/v1/accounts/${cw.accountId}/conversations/${victim.cwConversationId}/messages`, {
      method: 'POST', headers: { api_access_token: cw.token, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'copy', message_type: 'incoming', source_id: `WAID:${victim.waId}` }),
    });
    expect(dup.ok).toBe(true);
    const dirty = await cli(['check', '--instance', INSTANCE, '--since', '2h', '--json'], env);
    expect(dirty.exitCode).toBe(1);
    const dirtyReport = JSON.parse(dirty.lines[0] ?? '{}');
    expect(dirtyReport.totals).toMatchObject({ missingInLedger: 0, duplicatedInChatwoot: 1 });
    expect(dirtyReport.chats.find((c: { chat: string }) => c.chat === victim.chat).duplicatedInChatwoot).toEqual([`WAID:${victim.waId}`]);
  }, 60_000);

  it.each(['2.3.6', '2.3.7', '2.3.4'] as const)('LID chats (%s convention): stored keys differ from event keys, yet a repaired message joins its chat and nothing is doubled', async (convention) => {
    const r = await rig({ convention });
    const { app, evo } = r;
    evo.setFaults({ dropRate: 0.2 });
    const all = evo.generate({ instance: INSTANCE, chats: 6, messages: 120, seed: 21, lidRate: 1, groupRate: 0, fromMeRate: 0.2 });
    const lidStored = all.filter((m) => m.key.remoteJid.endsWith('@lid') || m.key.previousRemoteJid);
    expect(lidStored.length).toBeGreaterThan(50);
    const report = await evo.publish(all, { concurrency: 4 });
    expect(report.dropped).toBeGreaterThan(0);
    const live = await app.ledger.counts();
    await settled(app, live.pending + live.delivered + live.skipped);
    const conversationsBefore = r.cw.snapshot().conversations.length;

    const run = (await reconcile(app, { instance: INSTANCE, since: '1h' })).json();
    expect(run.repaired).toBe(run.missing);
    const messages = deliverable(all);
    await settled(app, messages.length);
    const v = await verdict(r, messages);
    expect(v).toMatchObject({ missing: 0, duplicated: 0, outOfOrder: 0, splitChats: 0 });
    // Repaired rows carry the same canonical chat the live events produced: no new conversation.
    expect(r.cw.snapshot().conversations.length).toBe(conversationsBefore);
    for (const m of messages) expect((await app.ledger.getMessage(INSTANCE, m.key.id))?.chat).toBe(m.canonicalJid);
    expect((await reconcile(app, { instance: INSTANCE, since: '1h' })).json()).toMatchObject({ missing: 0, repaired: 0 });
  }, 30_000);

  it('reconciles by itself when the instance reconnects (connection.update open)', async () => {
    const r = await rig();
    const now = Math.floor(Date.now() / 1000);
    const before = r.evo.generate({ instance: INSTANCE, chats: 5, messages: 100, seed: 31, startTimestamp: now - 400 });
    await r.evo.publish(before, { concurrency: 4 });
    // The connection drops: what WhatsApp delivers meanwhile is stored (history sync) but never upserted.
    await r.evo.setConnection(INSTANCE, 'connecting');
    const gap = r.evo.generate({ instance: INSTANCE, chats: 5, messages: 40, seed: 32, startTimestamp: now - 200 });
    const all = [...before, ...gap];
    await r.evo.setConnection(INSTANCE, 'open');
    const deadline = Date.now() + 10_000;
    let runs = await r.app.ledger.listReconcileRuns(INSTANCE, 5);
    while (!runs.some((x) => x.trigger === 'reconnect') && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      runs = await r.app.ledger.listReconcileRuns(INSTANCE, 5);
    }
    const run = runs.find((x) => x.trigger === 'reconnect');
    expect(run).toMatchObject({ error: null, repaired: deliverable(gap).length });
    // From the last known event (minus a little slack), not the whole cap.
    expect(run!.windowTo - run!.windowFrom).toBeLessThan(3_600_000);
    const messages = deliverable(all);
    await settled(r.app, messages.length);
    expect(await verdict(r, messages)).toMatchObject({ missing: 0, duplicated: 0, outOfOrder: 0 });
  }, 30_000);

  it('starts a reconnect run at the newest WhatsApp time seen, not at the arrival time of receipts', async () => {
    // Found by the full-size acceptance run: receipts (and edits, deletes) are placed at the time
    // evosync received them; counted as "WhatsApp time seen", a receipt just before the
    // disconnect narrowed the reconnect window to its last minute and the gap before it was missed.
    const r = await rig();
    const now = Math.floor(Date.now() / 1000);
    const before = r.evo.generate({ instance: INSTANCE, chats: 5, messages: 100, seed: 33, fromMeRate: 0.5, startTimestamp: now - 600 });
    const report = await r.evo.publish(before, { concurrency: 4 });
    expect(report.receipts).toBeGreaterThan(0);
    await r.evo.setConnection(INSTANCE, 'connecting');
    // Newer than anything published, but more than a minute before the receipts arrived.
    const gap = r.evo.generate({ instance: INSTANCE, chats: 5, messages: 40, seed: 34, startTimestamp: now - 300 });
    await r.evo.setConnection(INSTANCE, 'open');
    const deadline = Date.now() + 10_000;
    let run = (await r.app.ledger.listReconcileRuns(INSTANCE, 5)).find((x) => x.trigger === 'reconnect');
    for (; !run && Date.now() < deadline; await new Promise((res) => setTimeout(res, 50))) {
      run = (await r.app.ledger.listReconcileRuns(INSTANCE, 5)).find((x) => x.trigger === 'reconnect');
    }
    expect(run, JSON.stringify(run)).toMatchObject({ error: null, repaired: deliverable(gap).length });
    // Back to the newest published message (less the slack), which is before the gap, and no further.
    expect(run!.windowFrom).toBeLessThanOrEqual((now - 300) * 1000);
    expect(run!.windowFrom).toBeGreaterThan((now - 600) * 1000);
    const messages = deliverable([...before, ...gap]);
    await settled(r.app, messages.length);
    expect(await verdict(r, messages)).toMatchObject({ missing: 0, duplicated: 0, outOfOrder: 0 });
  }, 30_000);

  it('answers a clear error when Evolution is not configured, and refuses overlapping runs', async () => {
    const cwOnly = await rig({ extra: {} });
    // A second app on its own ledger without the Evolution settings.
    const { EVOLUTION_URL: _u, EVOLUTION_API_KEY: _k, ...rest } = cwOnly.env;
    const bare = await createEvosync(loadConfig({ ...rest, EVOSYNC_DATABASE_URL: tempSqliteUrl() }), { logger: createLogger('silent') });
    cleanup.push(() => bare.stop());
    const res = await reconcile(bare, { instance: INSTANCE, since: '1h' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('RECONCILE_NOT_CONFIGURED');
    const viaCli = await cli(['reconcile', '--instance', INSTANCE, '--since', '1h'], { ...rest, EVOSYNC_DATABASE_URL: tempSqliteUrl() });
    expect(viaCli).toMatchObject({ exitCode: 2 });
    expect(viaCli.lines[0]).toMatch(/EVOLUTION_URL and EVOLUTION_API_KEY/);

    cwOnly.evo.generate({ instance: INSTANCE, chats: 3, messages: 200, seed: 4 });
    const a = reconcile(cwOnly.app, { instance: INSTANCE, since: '1h' });
    const b = reconcile(cwOnly.app, { instance: INSTANCE, since: '1h' });
    const codes = (await Promise.all([a, b])).map((x) => x.statusCode).sort();
    expect(codes).toEqual([200, 409]);
  }, 30_000);
});
