import { expect } from 'vitest';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { verify } from '../../sim/verify.js';
import { connect } from '../../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../../src/ledger/sql-ledger.js';
import { ledgerRows } from '../../bench/payloads.js';
import { chatwootEnv, EvosyncProcess, freePort } from '../helpers/evosync-process.js';

/**
 * Pipelined delivery under kill -9: a lane sends a chat's next message while the previous one's
 * outcome is still being committed, so at any moment up to two messages per lane are in Chatwoot
 * without a recorded outcome. Against a Chatwoot that answers everything at once (the fastest
 * pipeline), evosync is killed several times mid-delivery; every message must still end in
 * Chatwoot exactly once and in order, found by look-ups rather than sent again.
 */
export async function runPipelinedCrash(databaseUrl: string): Promise<void> {
  const chats = 40;
  const n = Number(process.env['E2E_PIPELINE_MESSAGES'] ?? 6000);
  const rows = ledgerRows(0, n, chats, 'pipe');
  const conn = await connect(databaseUrl);
  await migrateLedger(conn);
  const seed = new SqlLedger(conn);
  for (let i = 0; i < rows.length; i += 500) await seed.insertMessages(rows.slice(i, i + 500), Date.now());
  await seed.close();

  const cw = await createChatwootSim({ seed: 5 });
  const proc = new EvosyncProcess(
    {
      EVOSYNC_DATABASE_URL: databaseUrl,
      ...chatwootEnv(cw),
      EVOSYNC_WEBHOOK_TOKEN: 'e2e-webhook-token-0123456789',
      EVOSYNC_LEASE_MS: '2000',
      EVOSYNC_LOG_LEVEL: 'warn',
      EVOSYNC_CHATWOOT_RATE_LIMIT: '0',
    },
    await freePort(),
  );
  try {
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      await proc.start();
      const before = (await proc.stats()).ledger.delivered;
      // Kill once delivery is well under way: lanes are pipelining by then.
      const deadline = Date.now() + 30_000;
      while ((await proc.stats()).ledger.delivered < before + 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if ((await proc.stats()).ledger.pending === 0) break;
      await proc.kill9();
      kills += 1;
    }
    expect(kills).toBeGreaterThanOrEqual(2);
    if (!(await proc.stats().then(() => true, () => false))) await proc.start();
    const deadline = Date.now() + 240_000;
    for (;;) {
      const { ledger } = await proc.stats();
      if (ledger.pending === 0) break;
      if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify(ledger)}\n${proc.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await proc.stop();

    const ledger = new SqlLedger(await connect(databaseUrl));
    const stored = await ledger.listMessages({ instance: 'pipe', limit: 1_000_000 });
    await ledger.close();
    const verdict = verify(
      rows.map((r) => ({ instance: 'pipe', waId: r.message.waId, chat: r.message.chat, timestamp: r.message.timestamp })),
      cw.snapshot().messages.map((m) => ({ sourceId: m.source_id, conversationId: m.conversation_id, seq: m.seq })),
      stored.map((r) => ({ waId: r.waId, receivedAt: r.receivedAt, deliveredAt: r.deliveredAt, sentAt: r.sentAt })),
    );
    expect(verdict).toMatchObject({ sent: n, delivered: n, missing: 0, duplicated: 0, outOfOrder: 0, splitChats: 0 });
    // The kills left messages in Chatwoot without a recorded outcome, and look-ups settled them.
    const listed = Object.entries(cw.stats().byRoute).filter(([route]) => route.startsWith('GET ') && route.endsWith('/messages')).reduce((a, [, c]) => a + c, 0);
    expect(listed).toBeGreaterThan(0);
  } finally {
    await proc.kill9().catch(() => {});
    await cw.close().catch(() => {});
  }
}
