import { expect } from 'vitest';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim } from '../../sim/evolution/index.js';
import { verify } from '../../sim/verify.js';
import { connect } from '../../src/ledger/connect.js';
import { SqlLedger } from '../../src/ledger/sql-ledger.js';
import { chatwootEnv, EvosyncProcess, freePort } from '../helpers/evosync-process.js';

export interface ScenarioOptions {
  databaseUrl: string;
  messages: number;
  chats: number;
  outageMs: number;
  seed: number;
}

/**
 * The foundation's acceptance scenario: messages across many chats through the Evolution webhook
 * into a Chatwoot that fails 20% of requests with 5xx, times out after committing 5% of writes and
 * goes down once, while evosync is SIGKILLed and restarted mid-run. Every message must end in
 * Chatwoot exactly once, each chat in order.
 */
export async function runLosslessScenario(o: ScenarioOptions): Promise<void> {
  const cw = await createChatwootSim({ seed: o.seed });
  const evo = await createEvolutionSim({ seed: o.seed, instances: ['e2e'] });
  const token = 'e2e-webhook-token-0123456789';
  const proc = new EvosyncProcess(
    {
      EVOSYNC_DATABASE_URL: o.databaseUrl,
      ...chatwootEnv(cw),
      EVOSYNC_WEBHOOK_TOKEN: token,
      EVOSYNC_HTTP_TIMEOUT_MS: '1000',
      EVOSYNC_RETRY_BASE_MS: '100',
      EVOSYNC_RETRY_MAX_MS: '2000',
      // The retry policy is compressed to fit a test: by default 15 attempts span about 40 minutes,
      // here 15 would span 25 s, less than a loaded CI machine can stall for (a clean-clone run
      // saw one message time out 15 times in a row and go dead). 60 span about two minutes.
      EVOSYNC_MAX_ATTEMPTS: '60',
      EVOSYNC_LEASE_MS: '3000',
      EVOSYNC_LOG_LEVEL: 'warn',
      // The fake Chatwoot runs without Rack::Attack here: evosync need not keep to its 3,000 a minute.
      EVOSYNC_CHATWOOT_RATE_LIMIT: '0',
    },
    await freePort(),
  );
  try {
    await proc.start();
    evo.setWebhook('e2e', { url: `${proc.url}/webhooks/evolution`, headers: { 'x-evosync-token': token } });
    evo.setWebhookRetry({ initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 1000 });
    evo.setFaults({ duplicateRate: 0.05, reorderWindow: 3 });
    cw.setFaults({ errorRate: 0.2, timeoutAfterCommitRate: 0.05, hangMs: 3000 });

    const messages = evo.generate({ instance: 'e2e', chats: o.chats, messages: o.messages, seed: o.seed, fromMeRate: 0.1, lidRate: 0.2, groupRate: 0.1 });
    const third = Math.floor(messages.length / 3);
    await evo.publish(messages.slice(0, third), { concurrency: 16 });

    // Chatwoot goes down while evosync keeps accepting webhooks.
    cw.setFaults({ outage: true });
    const outageOver = new Promise((r) => setTimeout(r, o.outageMs)).then(() => cw.setFaults({ outage: false }));
    await evo.publish(messages.slice(third, 2 * third), { concurrency: 16 });
    await outageOver;

    // Kill -9 in the middle of delivery (and of Evolution's posts), then start again.
    const rest = evo.publish(messages.slice(2 * third), { concurrency: 16 });
    await new Promise((r) => setTimeout(r, 300));
    await proc.kill9();
    await new Promise((r) => setTimeout(r, 500));
    await proc.start();
    await rest;

    const deadline = Date.now() + 540_000;
    for (;;) {
      const { ledger } = await proc.stats();
      if (ledger.pending === 0 && ledger.delivered + ledger.dead + ledger.skipped >= messages.length) break;
      if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify(ledger)}\n${proc.output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await proc.stop();

    const ledger = new SqlLedger(await connect(o.databaseUrl));
    const rows = await ledger.listMessages({ instance: 'e2e', limit: 1_000_000 });
    const counts = await ledger.counts();
    const dead = await ledger.listMessages({ instance: 'e2e', state: 'dead', limit: 10 });
    await ledger.close();
    if (dead.length > 0) console.error('dead messages:', dead.map((d) => ({ waId: d.waId, chat: d.chat, error: d.lastError, attempts: d.attempts })));

    const verdict = verify(
      messages.map((m) => ({ instance: 'e2e', waId: m.key.id, chat: m.canonicalJid, timestamp: m.messageTimestamp })),
      cw.snapshot().messages.map((m) => ({ sourceId: m.source_id, conversationId: m.conversation_id, seq: m.seq })),
      rows.map((r) => ({ waId: r.waId, receivedAt: r.receivedAt, deliveredAt: r.deliveredAt, sentAt: r.sentAt })),
    );
    if (verdict.duplicated > 0) {
      const snap = cw.snapshot().messages;
      for (const id of verdict.duplicatedIds.slice(0, 5)) {
        const row = rows.find((r) => r.waId === id);
        console.error('duplicate', id, { attempts: row?.attempts, state: row?.state, cw: row?.cwMessageId, error: row?.lastError }, snap.filter((m) => m.source_id === `WAID:${id}`).map((m) => ({ id: m.id, conv: m.conversation_id, seq: m.seq, at: m.created_at })));
      }
    }
    expect(counts.dead).toBe(0);
    expect(verdict).toMatchObject({ sent: o.messages, delivered: o.messages, missing: 0, duplicated: 0, outOfOrder: 0, splitChats: 0 });
    // The faults really happened: retries and look-ups were needed.
    expect(cw.stats().byStatus['500'] ?? 0).toBeGreaterThan(0);
  } finally {
    await proc.kill9().catch(() => {});
    await evo.close().catch(() => {});
    await cw.close().catch(() => {});
  }
}
