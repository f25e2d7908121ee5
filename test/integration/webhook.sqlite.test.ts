import type { ChatMessage } from '../../src/domain/message.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';

const TOKEN = 'test-webhook-token-0123456789';
let app: Evosync | null = null;

async function start(extra: Record<string, string> = {}): Promise<Evosync> {
  const config = loadConfig({
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    // Nothing listens here: delivery pauses, which keeps these tests about ingest only.
    CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 't', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1',
    EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_LOG_LEVEL: 'silent', ...extra,
  });
  app = await createEvosync(config, { logger: createLogger('silent') });
  return app;
}
afterEach(async () => {
  await app?.stop();
  app = null;
});

const upsert = (id: string, over: Record<string, unknown> = {}) => ({
  event: 'messages.upsert', instance: 'inst1', destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null,
  data: { key: { remoteJid: '5511999998888@s.whatsapp.net', fromMe: false, id }, pushName: 'Ana', message: { conversation: `text ${id}` }, messageType: 'conversation', messageTimestamp: 1729512000, ...over },
});

describe('POST /webhooks/evolution', () => {
  it('answers 200 only with the event committed, and deduplicates redeliveries', async () => {
    const a = await start();
    const post = (body: unknown, url = '/webhooks/evolution') => a.server.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    const r1 = await post(upsert('M1'));
    expect(r1.statusCode).toBe(200);
    expect(r1.json()).toEqual({ accepted: 1, duplicates: 0, skipped: 0 });
    expect(((await a.ledger.getMessage('inst1', 'M1'))?.message as ChatMessage | undefined)?.content.text).toBe('text M1');
    const r2 = await post(upsert('M1'));
    expect(r2.json()).toEqual({ accepted: 0, duplicates: 1, skipped: 0 });
    // by-events mode: the path names the event
    const r3 = await post({ ...upsert('M2'), event: 'MESSAGES_UPSERT' }, '/webhooks/evolution/messages-upsert');
    expect(r3.statusCode).toBe(200);
    expect((await a.ledger.counts()).pending).toBe(2);
  });

  it('accepts the token in the path (global webhook in by-events mode) and refuses a wrong one without storing', async () => {
    const a = await start();
    const ok = await a.server.inject({ method: 'POST', url: `/webhooks/evolution/t/${TOKEN}/send-message`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ ...upsert('S1'), event: 'send.message' }) });
    expect(ok.statusCode).toBe(200);
    expect((await a.ledger.getMessage('inst1', 'S1'))?.fromMe).toBe(true);
    const bad = await a.server.inject({ method: 'POST', url: '/webhooks/evolution?token=nope', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(upsert('X')) });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error).toBe('WEBHOOK_TOKEN_INVALID');
    expect((await a.ledger.counts()).refused).toBe(0);
  });

  it('refuses malformed input with a clear 4xx and keeps the raw body with its reason', async () => {
    const a = await start();
    const post = (payload: string) => a.server.inject({ method: 'POST', url: `/webhooks/evolution?token=${TOKEN}`, headers: { 'content-type': 'application/json' }, payload });
    const notJson = await post('{"event": "messages.upsert", ');
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error).toBe('PAYLOAD_NOT_JSON');
    const invalid = await post(JSON.stringify(upsert('B1', { messageTimestamp: 'soon' })));
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ error: 'PAYLOAD_INVALID' });
    const refused = await a.ledger.listRefused(10);
    expect(refused.map((r) => r.code).sort()).toEqual(['PAYLOAD_INVALID', 'PAYLOAD_NOT_JSON']);
    expect(refused.find((r) => r.code === 'PAYLOAD_NOT_JSON')?.body).toBe('{"event": "messages.upsert", ');
    expect(refused.find((r) => r.code === 'PAYLOAD_INVALID')?.reason).toMatch(/messageTimestamp/);
    // Still alive and accepting.
    expect((await post(JSON.stringify(upsert('B2')))).statusCode).toBe(200);
  });

  it('acknowledges events it deliberately ignores, and those of instances not synced', async () => {
    const a = await start({ EVOSYNC_INSTANCES: 'inst1' });
    const post = (body: unknown) => a.server.inject({ method: 'POST', url: `/webhooks/evolution?token=${TOKEN}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    const presence = await post({ event: 'presence.update', instance: 'inst1', data: { id: 'x' } });
    expect(presence.statusCode).toBe(200);
    expect(presence.json()).toMatchObject({ ignored: true, code: 'EVENT_UNSUPPORTED' });
    const other = await post({ ...upsert('O1'), instance: 'other' });
    expect(other.json()).toMatchObject({ ignored: true, code: 'INSTANCE_NOT_SYNCED' });
    const conn = await post({ event: 'connection.update', instance: 'inst1', data: { instance: 'inst1', state: 'open', statusReason: 200 } });
    expect(conn.statusCode).toBe(200);
    expect((await a.ledger.counts()).pending).toBe(0);
  });

  it('answers 503 once shutdown has begun', async () => {
    const a = await start();
    const stopping = a.stop();
    const r = await a.server.inject({ method: 'POST', url: `/webhooks/evolution?token=${TOKEN}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(upsert('Z')) }).catch(() => null);
    await stopping;
    app = null;
    expect(r === null || r.statusCode === 503).toBe(true);
  });
});
