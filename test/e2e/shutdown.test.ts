import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { connect } from '../../src/ledger/connect.js';
import { SqlLedger } from '../../src/ledger/sql-ledger.js';
import { EvosyncProcess, freePort } from '../helpers/evosync-process.js';
import { tempSqliteUrl } from '../helpers/services.js';

const TOKEN = 'shutdown-webhook-token-0123456789';

function upsert(i: number): string {
  return JSON.stringify({
    event: 'messages.upsert', instance: 'sd',
    data: { key: { remoteJid: `55119000000${String(i % 5).padStart(2, '0')}@s.whatsapp.net`, fromMe: false, id: `SD${i}` }, pushName: 'P', message: { conversation: `m${i}` }, messageType: 'conversation', messageTimestamp: 1_760_000_000 + i },
  });
}

/**
 * The service as operators run it: SIGTERM while deliveries are in flight finishes them (or
 * records them as possibly sent), releases the ledger and exits 0; a second signal exits at once;
 * the next start delivers the rest, each message exactly once.
 */
describe('shutdown', () => {
  let cw: ChatwootSim;
  beforeAll(async () => {
    cw = await createChatwootSim({ seed: 5 });
  });
  afterAll(() => cw.close());

  const env = (db: string) => ({
    EVOSYNC_DATABASE_URL: db, CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token,
    CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_LOG_LEVEL: 'warn', EVOSYNC_ORDER_WINDOW_MS: '0',
    EVOSYNC_SHUTDOWN_GRACE_MS: '1000', EVOSYNC_HTTP_TIMEOUT_MS: '5000',
  });

  it('drains on SIGTERM, exits 0, and the next run delivers the rest exactly once', async () => {
    const db = tempSqliteUrl();
    const proc = new EvosyncProcess(env(db), await freePort());
    await proc.start();
    cw.setFaults({ latencyMs: 400 });
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${proc.url}/webhooks/evolution`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-evosync-token': TOKEN }, body: upsert(i) });
      expect(r.status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 600));
    const exit = await proc.signal(['SIGTERM']);
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(8000);

    const ledger = new SqlLedger(await connect(db));
    const before = await ledger.counts();
    await ledger.close();
    expect(before.pending + before.delivered).toBe(40);
    expect(before.pending).toBeGreaterThan(0); // work was really interrupted

    cw.setFaults({ latencyMs: 0 });
    await proc.start(); // the SQLite lock was released: a second start is allowed
    const deadline = Date.now() + 30_000;
    while ((await proc.stats()).ledger.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await proc.stats()).ledger).toMatchObject({ pending: 0, delivered: 40, dead: 0 });
    const ids = cw.snapshot().messages.map((m) => m.source_id).filter((s): s is string => !!s?.startsWith('WAID:SD'));
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    await proc.stop();
  }, 60_000);

  it('a second signal exits at once', async () => {
    const proc = new EvosyncProcess(env(tempSqliteUrl()), await freePort());
    await proc.start();
    cw.setFaults({ latencyMs: 3000 });
    for (let i = 100; i < 110; i++) {
      await fetch(`${proc.url}/webhooks/evolution`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-evosync-token': TOKEN }, body: upsert(i) });
    }
    await new Promise((r) => setTimeout(r, 300));
    const exit = await proc.signal(['SIGTERM', 'SIGTERM']);
    cw.setFaults({ latencyMs: 0 });
    expect(exit.code).toBe(130);
    expect(exit.ms).toBeLessThan(1000);
  }, 30_000);
});

describe('shutdown after the grace period', () => {
  it('cuts requests still in flight, exits 0, and the next run settles them without duplicates', async () => {
    const cw = await createChatwootSim({ seed: 6 });
    const db = tempSqliteUrl();
    const env = {
      EVOSYNC_DATABASE_URL: db, CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token,
      CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOSYNC_WEBHOOK_TOKEN: TOKEN, EVOSYNC_LOG_LEVEL: 'warn', EVOSYNC_ORDER_WINDOW_MS: '0',
      EVOSYNC_SHUTDOWN_GRACE_MS: '300', EVOSYNC_HTTP_TIMEOUT_MS: '10000',
    };
    const proc = new EvosyncProcess(env, await freePort());
    try {
      await proc.start();
      for (let i = 200; i < 210; i++) {
        await fetch(`${proc.url}/webhooks/evolution`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-evosync-token': TOKEN }, body: upsert(i) });
      }
      // Let the chats' contacts and conversations be created, then make every message hang.
      const deadline = Date.now() + 10_000;
      while ((await proc.stats()).ledger.delivered < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      cw.setFaults({ latencyMs: 5000 });
      await new Promise((r) => setTimeout(r, 200));
      const exit = await proc.signal(['SIGTERM']);
      expect(exit.code).toBe(0);
      expect(exit.ms).toBeLessThan(3000); // not the 5 s the requests would have taken

      cw.setFaults({ latencyMs: 0 });
      await proc.start();
      const settle = Date.now() + 20_000;
      while ((await proc.stats()).ledger.pending > 0 && Date.now() < settle) await new Promise((r) => setTimeout(r, 100));
      expect((await proc.stats()).ledger).toMatchObject({ pending: 0, delivered: 10, dead: 0 });
      const ids = cw.snapshot().messages.map((m) => m.source_id).filter((s): s is string => !!s?.startsWith('WAID:SD'));
      expect(new Set(ids).size).toBe(10);
      expect(ids).toHaveLength(10);
    } finally {
      await proc.kill9();
      await cw.close();
    }
  }, 60_000);
});
