import { describe, expect, it } from 'vitest';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim } from '../../sim/evolution/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import type { TraceResult } from '../../src/trace/types.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { cleanups, until } from '../helpers/lifecycle.js';

const WEBHOOK_TOKEN = 'trace-webhook-token-0123456789';
const API_TOKEN = 'trace-api-token-0123456789';
const INSTANCE = 'tr';

const cleanup = cleanups();


/** Real simulators of both sides, evosync in-process on SQLite, one message published through Evolution's webhook. */
async function rig(extra: Record<string, string> = {}) {
  const cw = await createChatwootSim({ seed: 5 });
  cleanup.push(() => cw.close());
  const evo = await createEvolutionSim({ seed: 5, instances: [INSTANCE] });
  cleanup.push(() => evo.close());
  const env: Record<string, string> = {
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey,
    EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN, EVOSYNC_API_TOKEN: API_TOKEN,
    EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_LOG_LEVEL: 'silent', ...extra,
  };
  const app: Evosync = await createEvosync(loadConfig({ ...env, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0' }), { logger: createLogger('silent') });
  cleanup.push(() => app.stop());
  const address = await app.listen();
  evo.setWebhook(INSTANCE, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } });
  const [msg] = evo.generate({ instance: INSTANCE, chats: 1, messages: 1, seed: 5, kinds: { text: 1 }, fromMeRate: 0, lidRate: 0, groupRate: 0 });
  if (!msg) throw new Error('no message generated');
  await evo.publish([msg]);
  return { app, cw, evo, env, msg };
}

const api = (app: Evosync, id: string, token: string | null = API_TOKEN) =>
  app.server.inject({ method: 'GET', url: `/api/trace/${encodeURIComponent(id)}`, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('trace', () => {
  it('GET /api/trace/:id shows the ledger row and the message as Chatwoot and Evolution hold it, by WhatsApp or Chatwoot id', async () => {
    const { app, cw, msg } = await rig();
    const row = await until('delivery', async () => {
      const m = await app.ledger.getMessage(INSTANCE, msg.key.id);
      return m?.state === 'delivered' ? m : null;
    });

    expect((await api(app, msg.key.id, null)).statusCode).toBe(401);
    const res = await api(app, msg.key.id);
    expect(res.statusCode).toBe(200);
    const body = res.json<TraceResult>();
    expect(body.traces).toHaveLength(1);
    const t = body.traces[0]!;
    expect(t.ledger).toMatchObject({
      waId: msg.key.id, state: 'delivered', attempts: 1, lastError: null, direction: 'to_chatwoot', source: 'webhook',
      lane: { instance: INSTANCE, chat: msg.canonicalJid }, cwConversationId: row.cwConversationId, cwMessageId: row.cwMessageId,
    });
    expect(t.ledger.deliveredAt).toBeGreaterThanOrEqual(t.ledger.receivedAt);
    // Chatwoot's view is read from the simulator's API, and matches what it stores.
    const stored = cw.snapshot().messages.find((m) => m.source_id === `WAID:${msg.key.id}`);
    expect(stored).toBeDefined();
    expect(t.chatwoot).toMatchObject({ status: 'found', value: { conversation: { id: stored!.conversation_id }, message: { id: row.cwMessageId, source_id: `WAID:${msg.key.id}`, content: stored!.content } } });
    expect(t.evolution).toMatchObject({ status: 'found', value: { records: [{ key: { id: msg.key.id } }] } });

    const byCw = await api(app, String(row.cwMessageId));
    expect(byCw.statusCode).toBe(200);
    expect(byCw.json<TraceResult>().traces.map((x) => x.ledger.waId)).toContain(msg.key.id);
    const missing = await api(app, 'NOT-A-MESSAGE');
    expect(missing.statusCode).toBe(404);
    expect(missing.json<TraceResult>().traces).toEqual([]);
  });

  it('says which side could not be asked, instead of calling the message missing', async () => {
    // Chatwoot refuses every request: delivery pauses, the message stays pending with no Chatwoot ids.
    const { app, cw, evo, msg } = await rig();
    cw.setFaults({ outage: true });
    await evo.close();
    const id = 'PENDING-ONLY';
    await app.server.inject({
      method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ event: 'messages.upsert', instance: INSTANCE, destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null, data: { key: { remoteJid: '5511999990077@s.whatsapp.net', fromMe: false, id }, pushName: 'Ana', message: { conversation: 'hi' }, messageType: 'conversation', messageTimestamp: 1729512000 } }),
    });
    const t = (await api(app, id)).json<TraceResult>().traces[0]!;
    expect(t.ledger).toMatchObject({ waId: id, state: 'pending', cwMessageId: null });
    expect(t.chatwoot).toEqual({ status: 'skipped', detail: 'no Chatwoot conversation recorded yet (not delivered)' });
    expect(t.evolution.status).toBe('error'); // Evolution is down: an error, not "not found"
    expect(msg).toBeDefined();
  });

  it('evosync trace prints the same history as text and JSON beside the running service, and exits 1 for an unknown id', async () => {
    const { app, env, msg } = await rig();
    await until('delivery', async () => (await app.ledger.getMessage(INSTANCE, msg.key.id))?.state === 'delivered');
    const lines: string[] = [];
    const text = await runCli(['trace', msg.key.id], env, (l) => lines.push(l));
    expect(text).toEqual({ kind: 'done', exitCode: 0 });
    const out = lines.join('\n');
    expect(out).toContain(`message ${msg.key.id}`);
    expect(out).toMatch(/state\s+delivered/);
    expect(out).toMatch(new RegExp(`lane\\s+${INSTANCE} / ${msg.canonicalJid.replace(/[.@]/g, '\\$&')}`));
    expect(out).toMatch(/chatwoot\n\s+conversation\s+\d+ \(open/);
    expect(out).toMatch(/evolution\n\s+stored\s+\S+ in /);

    const json: string[] = [];
    expect(await runCli(['trace', msg.key.id, '--json'], env, (l) => json.push(l))).toEqual({ kind: 'done', exitCode: 0 });
    expect((JSON.parse(json.join('\n')) as TraceResult).traces[0]?.chatwoot.status).toBe('found');

    const none: string[] = [];
    expect(await runCli(['trace', 'NO-SUCH-ID'], env, (l) => none.push(l))).toEqual({ kind: 'done', exitCode: 1 });
    expect(none.join('\n')).toContain('no message in the ledger');
    expect(await runCli(['trace'], env, () => {})).toEqual({ kind: 'done', exitCode: 2 });
  });
});
