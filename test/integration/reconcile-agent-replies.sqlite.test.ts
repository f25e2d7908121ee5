import { afterEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { ChatwootApi } from '../../src/chatwoot/api.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { conversationFor, until, webhooksIdle } from '../helpers/agent-replies.js';
import { freePort } from '../helpers/evosync-process.js';
import { tempSqliteUrl } from '../helpers/services.js';

/**
 * Chatwoot → WhatsApp reconciliation: agent replies whose webhook never reached evosync are found
 * through Chatwoot's conversation and message lists and sent, each exactly once.
 */
const WEBHOOK_TOKEN = 'cw-reconcile-webhook-token-0123';
const API_TOKEN = 'cw-reconcile-api-token-0123456789';
const CW_SECRET = 'cw-reconcile-inbox-secret';
const INSTANCE = 'cr';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  cleanup = [];
});

interface Rig {
  app: Evosync;
  evo: EvolutionSim;
  cw: ChatwootSim;
  api: ChatwootApi;
  env: Record<string, string>;
  address: string;
  /** Moves the Chatwoot simulator's clock (ms added to the real time). */
  shiftChatwootClock(ms: number): void;
}

async function rig(extra: Record<string, string> = {}): Promise<Rig> {
  let offset = 0;
  const cw = await createChatwootSim({ seed: 8, clock: () => Date.now() + offset });
  cleanup.push(() => cw.close());
  const evo = await createEvolutionSim({ seed: 8, instances: [INSTANCE] });
  cleanup.push(() => evo.close());
  const env: Record<string, string> = {
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_INSTANCES: INSTANCE,
    EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN, CHATWOOT_WEBHOOK_SECRET: CW_SECRET, EVOSYNC_API_TOKEN: API_TOKEN,
    EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '50', EVOSYNC_RETRY_MAX_MS: '1000',
    EVOSYNC_AGENT_REPLY_MAX_AGE_MS: '3600000', EVOSYNC_RECEIPT_WAIT_MS: '2000',
    EVOSYNC_HTTP_TIMEOUT_MS: '3000', EVOSYNC_LOG_LEVEL: 'silent', ...extra,
  };
  const app = await createEvosync(loadConfig({ ...env, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0' }), { logger: createLogger('silent') });
  cleanup.push(() => app.stop());
  const address = await app.listen();
  evo.setWebhook(INSTANCE, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } });
  const api = new ChatwootApi({ url: cw.url, apiToken: cw.token, accountId: cw.accountId, inboxId: cw.inboxId }, 5000);
  cleanup.push(() => api.close());
  return { app, evo, cw, api, env, address, shiftChatwootClock: (ms) => (offset = ms) };
}

const reconcileApi = (app: Evosync, since: string) =>
  app.server.inject({ method: 'POST', url: '/api/reconcile', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` }, payload: JSON.stringify({ instance: INSTANCE, since }) });

async function cli(args: string[], env: Record<string, string>): Promise<{ exitCode: number; lines: string[] }> {
  const lines: string[] = [];
  const r = await runCli(args, env, (l) => lines.push(l));
  if (r.kind !== 'done') throw new Error('unexpected running result');
  return { exitCode: r.exitCode, lines };
}

const textOf = (m: { message: Record<string, unknown> }): string => {
  const msg = m.message as { conversation?: string; extendedTextMessage?: { text?: string } };
  return String(msg.conversation ?? msg.extendedTextMessage?.text);
};

async function allToWhatsAppSettled(app: Evosync, n: number): Promise<void> {
  await until(`${n} agent replies settled`, async () => {
    const rows = await app.ledger.listMessages({ instance: INSTANCE, direction: 'to_whatsapp', limit: 100_000 });
    return rows.length >= n && rows.every((r) => r.state !== 'pending');
  }, 30_000);
}

describe('Chatwoot → WhatsApp reconciliation', () => {
  it('sends every agent reply whose webhook failed exactly once, across paginated conversations and messages; check reports the drift, then none', async () => {
    const r = await rig();
    // 30 conversations (two pages of 25), one of them with 45 messages in the window (three pages of 20).
    const convs = [];
    for (let i = 0; i < 30; i++) convs.push(await conversationFor(r.api, `55119777${String(i).padStart(5, '0')}`));
    const busy = convs[0]!;
    for (let i = 0; i < 20; i++) {
      const m = await r.api.createMessage(busy.conversationId, { content: `customer ${i}`, message_type: 'incoming', source_id: `WAID:CUST${i}` });
      expect(m.ok).toBe(true);
    }

    // Delivered live first: the reconcile must not send these again.
    r.cw.setInboxWebhook(`${r.address}/webhooks/chatwoot`, CW_SECRET);
    const live: number[] = [];
    for (let i = 0; i < 5; i++) live.push((await r.cw.agentReply(convs[i]!.conversationId, `live reply ${i}`))['id'] as number);
    await webhooksIdle(r);
    await allToWhatsAppSettled(r.app, 5);

    // evosync unreachable from Chatwoot: every webhook fails (connection refused), and Chatwoot
    // marks those messages failed (reference §6.5).
    r.cw.setInboxWebhook(`http://127.0.0.1:${await freePort()}/webhooks/chatwoot`, CW_SECRET);
    const lost = new Map<number, string>();
    const reply = async (conversationId: number, text: string) => lost.set((await r.cw.agentReply(conversationId, text))['id'] as number, text);
    for (let i = 0; i < 25; i++) await reply(busy.conversationId, `busy lost ${i}`);
    for (let i = 1; i < 30; i++) await reply(convs[i]!.conversationId, `lost reply ${i}`);
    // Not agent replies: a private note, a message evosync synced from WhatsApp, a customer message.
    await r.cw.agentReply(convs[2]!.conversationId, 'private note', { private: true });
    expect((await r.api.createMessage(convs[3]!.conversationId, { content: 'typed on the phone', message_type: 'outgoing', source_id: 'WAID:PHONE1' })).ok).toBe(true);
    expect((await r.api.createMessage(convs[4]!.conversationId, { content: 'customer again', message_type: 'incoming', source_id: 'WAID:CUST-X' })).ok).toBe(true);
    // One evosync gave up on before (a ledger reset since): left to the agent's Retry. No webhook
    // meanwhile, or the failing message_updated would overwrite the error text.
    const deadUrl = `http://127.0.0.1:${await freePort()}/webhooks/chatwoot`;
    await webhooksIdle(r);
    r.cw.setInboxWebhook(null);
    const givenUp = (await r.cw.agentReply(convs[5]!.conversationId, 'given up'))['id'] as number;
    await fetch(`${r.cw.url}/api/v1/accounts/${r.cw.accountId}/conversations/${convs[5]!.conversationId}/messages/${givenUp}`, {
      method: 'PATCH', headers: { api_access_token: r.cw.token, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'failed', external_error: 'evosync: AGENT_REPLY_TOO_OLD' }),
    });
    r.cw.setInboxWebhook(deadUrl, CW_SECRET);
    // Written two hours ago (before the max age) in a conversation that is active now.
    r.shiftChatwootClock(-2 * 3_600_000);
    await r.cw.agentReply(convs[6]!.conversationId, 'ancient reply');
    r.shiftChatwootClock(0);
    await reply(convs[6]!.conversationId, 'fresh after ancient');
    await webhooksIdle(r);
    expect(r.cw.snapshot().messages.filter((m) => lost.has(m.id)).every((m) => m.status === 'failed')).toBe(true);
    expect(r.evo.sent(INSTANCE)).toHaveLength(5);

    const drift = await cli(['check', '--instance', INSTANCE, '--since', '3h', '--json'], r.env);
    expect(drift.exitCode).toBe(1);
    const report = JSON.parse(drift.lines[0] ?? '{}');
    expect(report.agentReplies).toMatchObject({ compared: 5 + lost.size, notSent: [], pending: 0 });
    expect([...report.agentReplies.missingInLedger].sort()).toEqual([...lost.keys()].map((id) => `cw:${id}`).sort());
    expect(report.totals).toMatchObject({ agentRepliesMissingInLedger: lost.size, agentRepliesNotSent: 0, missingInLedger: 0 });

    // evosync reachable again (else the failing message_updated of each status change paints it red again).
    r.cw.setInboxWebhook(`${r.address}/webhooks/chatwoot`, CW_SECRET);
    const run = await reconcileApi(r.app, '3h');
    expect(run.statusCode).toBe(200);
    expect(run.json()).toMatchObject({ error: null, agentConversations: 30, agentCompared: 5 + lost.size, agentMissing: lost.size, agentRepaired: lost.size });
    await allToWhatsAppSettled(r.app, 5 + lost.size);

    const sent = r.evo.sent(INSTANCE).map(textOf);
    expect(sent).toHaveLength(5 + lost.size);
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.sort()).toEqual([...[...lost.values()], ...live.map((_, i) => `live reply ${i}`)].sort());
    // In the order the agent wrote them, within the chat.
    const busyChat = r.evo.sent(INSTANCE).filter((m) => textOf(m).startsWith('busy lost')).map(textOf);
    expect(busyChat).toEqual(Array.from({ length: 25 }, (_, i) => `busy lost ${i}`));
    const rows = await r.app.ledger.listMessages({ instance: INSTANCE, direction: 'to_whatsapp', limit: 1000 });
    expect(rows.filter((x) => x.source === 'reconcile')).toHaveLength(lost.size);
    expect(rows.every((x) => x.state === 'delivered')).toBe(true);

    // Their "sent" status reached Chatwoot, clearing the failure the lost webhook had left.
    await until('statuses in Chatwoot', () => r.cw.snapshot().messages.filter((m) => lost.has(m.id)).every((m) => m.status === 'sent' && !m.content_attributes['external_error']));

    const second = await reconcileApi(r.app, '3h');
    expect(second.json()).toMatchObject({ error: null, agentCompared: 5 + lost.size, agentMissing: 0, agentRepaired: 0 });
    const clean = await cli(['check', '--instance', INSTANCE, '--since', '3h'], r.env);
    expect(clean.lines.at(-1)).toMatch(/clean/);
    expect(clean.exitCode).toBe(0);
    expect(r.evo.sent(INSTANCE)).toHaveLength(5 + lost.size);
  }, 60_000);

  it('a reconnect-triggered run sends the replies agents wrote while evosync was unreachable', async () => {
    const r = await rig();
    const c = await conversationFor(r.api, '5511977700001');
    // Live WhatsApp traffic first, so the reconnect's window starts at the instance's last event.
    const now = Math.floor(Date.now() / 1000);
    await r.evo.publish(r.evo.generate({ instance: INSTANCE, chats: 2, messages: 10, seed: 4, startTimestamp: now - 30 }), { concurrency: 2 });
    r.cw.setInboxWebhook(null);
    for (let i = 0; i < 3; i++) await r.cw.agentReply(c.conversationId, `while away ${i}`);
    await r.evo.setConnection(INSTANCE, 'connecting');
    await r.evo.setConnection(INSTANCE, 'open');
    const run = await until('reconnect run', async () => (await r.app.ledger.listReconcileRuns(INSTANCE, 5)).find((x) => x.trigger === 'reconnect') ?? null);
    expect(run).toMatchObject({ error: null, agentMissing: 3, agentRepaired: 3 });
    await allToWhatsAppSettled(r.app, 3);
    expect(r.evo.sent(INSTANCE).map(textOf)).toEqual(['while away 0', 'while away 1', 'while away 2']);
  }, 30_000);

  it('records the Chatwoot failure in the run and still repairs the WhatsApp side', async () => {
    const r = await rig();
    const all = r.evo.generate({ instance: INSTANCE, chats: 2, messages: 20, seed: 5 });
    r.cw.setFaults({ outage: true });
    const run = (await reconcileApi(r.app, '1h')).json();
    expect(run.repaired).toBe(run.missing);
    expect(run.missing).toBeGreaterThan(0);
    expect(run.missing).toBeLessThanOrEqual(all.length);
    expect(run.error).toMatch(/^agent replies: CHATWOOT_FAILED/);
    expect((await r.app.ledger.listReconcileRuns(INSTANCE, 1))[0]).toMatchObject({ error: run.error, agentRepaired: 0 });
    r.cw.setFaults({ outage: false });
  }, 30_000);
});
