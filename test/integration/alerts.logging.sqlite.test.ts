import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { alertReceiver } from './alerts-receiver.js';
import { cleanups } from '../helpers/lifecycle.js';

/** Every secret a run touches; none may ever appear in a log line, whatever the level. */
const SECRETS = {
  webhookToken: 'SECRET-evo-webhook-token-7f3a9c',
  apiToken: 'SECRET-operator-api-token-41d2e8',
  evolutionKey: 'SECRET-evolution-key-9b7c11',
  badChatwootToken: 'SECRET-bad-chatwoot-token-55aa01',
  hookPath: 'SECRET-alert-hook-path-c0ffee',
};

const cleanup = cleanups();

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  let rest = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

let seq = 0;
const upsert = (id: string, chat: string) => JSON.stringify({
  event: 'messages.upsert', instance: 'lg', destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: SECRETS.evolutionKey,
  data: { key: { remoteJid: `${chat}@s.whatsapp.net`, fromMe: false, id }, pushName: 'Ana', message: { conversation: `text ${id}` }, messageType: 'conversation', messageTimestamp: 1729512000 + ++seq },
});

describe('logs', () => {
  it('one JSON line per message state change, with id, chat, attempt and duration; no secret in any line at trace level', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('trace', stream);
    const hook = await alertReceiver(`/hooks/${SECRETS.hookPath}`);
    cleanup.push(() => hook.close());
    hook.failNext(1_000); // every alert send fails and is logged
    const cw = await createChatwootSim({ seed: 31 });
    cleanup.push(() => cw.close());
    const base = {
      EVOSYNC_WEBHOOK_TOKEN: SECRETS.webhookToken, EVOSYNC_API_TOKEN: SECRETS.apiToken, EVOLUTION_URL: 'http://127.0.0.1:9', EVOLUTION_API_KEY: SECRETS.evolutionKey,
      CHATWOOT_URL: cw.url, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '50', EVOSYNC_MAX_ATTEMPTS: '2', EVOSYNC_RECONCILE_INTERVAL_MS: '0',
      EVOSYNC_ALERT_INTERVAL_MS: '100', EVOSYNC_ALERT_AFTER_MS: '0', EVOSYNC_ALERT_WEBHOOK_URL: hook.url, EVOSYNC_ALERT_CHATWOOT: 'true', EVOSYNC_LOG_LEVEL: 'trace',
    };
    const start = async (env: Record<string, string>): Promise<Evosync> => {
      const app = await createEvosync(loadConfig({ ...base, EVOSYNC_DATABASE_URL: tempSqliteUrl(), ...env }), { logger });
      cleanup.push(() => app.stop());
      return app;
    };
    const post = (app: Evosync, url: string, body: string, headers: Record<string, string> = {}) =>
      app.server.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: body });

    // A healthy service: one delivered, then Chatwoot fails every request: a retry, then dead.
    const good = await start({ CHATWOOT_API_TOKEN: cw.token });
    expect((await post(good, `/webhooks/evolution/t/${SECRETS.webhookToken}`, upsert('L1', '5511944440001'))).statusCode).toBe(200);
    await until(async () => (await good.ledger.counts()).delivered === 1);
    cw.setFaults({ errorRate: 1 });
    expect((await post(good, '/webhooks/evolution', upsert('L2', '5511944440002'), { authorization: `Bearer ${SECRETS.webhookToken}` })).statusCode).toBe(200);
    await until(async () => (await good.ledger.counts()).dead === 1);
    cw.setFaults({ errorRate: 0 });
    // Refused credentials, presented the ways an attacker or a typo would.
    expect((await post(good, `/webhooks/evolution/t/${SECRETS.apiToken}`, upsert('L3', '5511944440003'))).statusCode).toBe(401);
    expect((await post(good, `/webhooks/evolution?token=${SECRETS.apiToken}`, upsert('L4', '5511944440003'))).statusCode).toBe(401);
    expect((await post(good, '/api/reconcile', '{"instance":"lg"}', { authorization: `Bearer ${SECRETS.webhookToken}` })).statusCode).toBe(401);
    expect((await post(good, '/api/reconcile', '{"instance":"lg"}', { authorization: `Bearer ${SECRETS.apiToken}` })).statusCode).toBe(502);

    // A service with a token Chatwoot refuses: delivery pauses, the alert is raised, and both
    // alert sinks fail (the webhook refuses, Chatwoot answers 401) and log it.
    const bad = await start({ CHATWOOT_API_TOKEN: SECRETS.badChatwootToken });
    expect((await post(bad, '/webhooks/evolution', upsert('L5', '5511944440005'), { 'x-evosync-token': SECRETS.webhookToken })).statusCode).toBe(200);
    await until(async () => lines.some((l) => l.includes('sending an alert failed') && l.includes('"sink":"chatwoot"')) && lines.some((l) => l.includes('sending an alert failed') && l.includes('"sink":"webhook"')));
    await good.stop();
    await bad.stop();

    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(10);
    for (const line of lines) for (const [name, secret] of Object.entries(SECRETS)) expect(line.includes(secret), `${name} leaked: ${line}`).toBe(false);

    const delivered = records.filter((r) => r['msg'] === 'delivered to Chatwoot');
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ level: 20, waId: 'L1', chat: '5511944440001@s.whatsapp.net', attempt: 1, instance: 'lg' });
    expect(typeof delivered[0]!['messageId']).toBe('number');
    expect(typeof delivered[0]!['durationMs']).toBe('number');
    expect(records.filter((r) => r['msg'] === 'delivery failed; will retry' && r['waId'] === 'L2')).toMatchObject([{ level: 40, attempt: 1 }]);
    const dead = records.filter((r) => r['msg'] === 'message is dead');
    expect(dead).toMatchObject([{ level: 50, waId: 'L2', attempt: 2 }]);
    expect(String(dead[0]!['error'])).toMatch(/^CHATWOOT_SERVER_ERROR/);
    // A paused upstream is one line for the pause, not one per waiting message.
    expect(records.filter((r) => r['msg'] === 'delivery paused').length).toBeGreaterThanOrEqual(1);
    expect(records.some((r) => typeof r['msg'] === 'string' && (r['msg'] as string).startsWith('[evosync FIRING] Delivery paused'))).toBe(true);
  }, 40_000);
});

async function until(ok: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}
