import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim } from '../../sim/evolution/index.js';
import { formatVerdict, verify } from '../../sim/verify.js';
import { createEvosync } from '../app.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../lib/logger.js';

export interface DemoOptions {
  messages: number;
  chats: number;
  seed: number;
  quiet: boolean;
  out: (line: string) => void;
}

/**
 * `evosync demo`: the whole loop on one machine with nothing installed — simulated Evolution and
 * Chatwoot, an embedded SQLite ledger — while the fake Chatwoot fails requests, times out after
 * committing, and goes down for a few seconds. Ends by comparing both sides.
 */
export async function demoCommand(o: DemoOptions): Promise<boolean> {
  const say = (line: string) => o.out(line);
  const dir = mkdtempSync(join(tmpdir(), 'evosync-demo-'));
  const cw = await createChatwootSim({ seed: o.seed });
  const evo = await createEvolutionSim({ seed: o.seed, instances: ['demo'] });
  const token = randomBytes(16).toString('hex');
  const config = loadConfig({
    EVOSYNC_DATABASE_URL: `sqlite:${join(dir, 'ledger.db')}`,
    EVOSYNC_HOST: '127.0.0.1',
    EVOSYNC_PORT: '0',
    CHATWOOT_URL: cw.url,
    CHATWOOT_API_TOKEN: cw.token,
    CHATWOOT_ACCOUNT_ID: String(cw.accountId),
    CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOSYNC_WEBHOOK_TOKEN: token,
    EVOSYNC_HTTP_TIMEOUT_MS: '2000',
    EVOSYNC_RETRY_BASE_MS: '200',
    // The fake Chatwoot runs without Rack::Attack here: evosync need not keep to its 3,000 a minute.
    EVOSYNC_CHATWOOT_RATE_LIMIT: '0',
    EVOSYNC_RETRY_MAX_MS: '3000',
  });
  const app = await createEvosync(config, { logger: createLogger('silent') });
  const started = Date.now();
  try {
    const address = await app.listen();
    evo.setWebhook('demo', { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${token}` } });
    evo.setWebhookRetry({ initialDelayMs: 200, maxDelayMs: 2000 });
    evo.setFaults({ duplicateRate: 0.05, reorderWindow: 4 });
    cw.setFaults({ errorRate: 0.1, timeoutAfterCommitRate: 0.03, hangMs: 4000 });

    const messages = evo.generate({
      instance: 'demo', chats: o.chats, messages: o.messages, seed: o.seed,
      kinds: { text: 80, extendedText: 8, image: 4, document: 2, ptt: 2, location: 1, contact: 1, reaction: 1, poll: 1 },
      fromMeRate: 0.1, lidRate: 0.2, groupRate: 0.1,
    });
    say(`evosync demo: ${messages.length} WhatsApp messages in ${o.chats} chats → evosync (${address}) → Chatwoot`);
    say('Chatwoot misbehaves throughout: 10% 5xx, 3% time out after committing, one 4 s outage; Evolution sends 5% twice and out of order.');

    const outageAt = Math.floor(messages.length / 3);
    const progress = setInterval(() => void report(), o.quiet ? 1e9 : 1000);
    const report = async () => {
      const c = await app.ledger.counts();
      say(`  t+${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s  in ledger ${String(c.pending + c.delivered + c.dead + c.skipped).padStart(6)}  delivered ${String(c.delivered).padStart(6)}  pending ${String(c.pending).padStart(6)}  dead ${c.dead}  Chatwoot calls ${app.chatwootCalls()}`);
    };
    const first = evo.publish(messages.slice(0, outageAt), { concurrency: 16 });
    await first;
    say('  Chatwoot goes down for 4 s…');
    cw.setFaults({ outage: true });
    setTimeout(() => cw.setFaults({ outage: false }), 4000).unref();
    await evo.publish(messages.slice(outageAt), { concurrency: 16 });

    const deadline = Date.now() + 180_000;
    for (;;) {
      const c = await app.ledger.counts();
      if (c.pending === 0 && c.delivered + c.dead + c.skipped >= messages.length) break;
      if (Date.now() > deadline) {
        say('  gave up waiting for the backlog to drain');
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    clearInterval(progress);
    await report();
    cw.setFaults({ errorRate: 0, timeoutAfterCommitRate: 0, outage: false });

    const rows = await app.ledger.listMessages({ instance: 'demo', limit: 1_000_000 });
    const verdict = verify(
      messages.map((m) => ({ instance: 'demo', waId: m.key.id, chat: m.canonicalJid, timestamp: m.messageTimestamp })),
      cw.snapshot().messages.map((m) => ({ sourceId: m.source_id, conversationId: m.conversation_id, seq: m.seq })),
      rows.map((r) => ({ waId: r.waId, receivedAt: r.receivedAt, deliveredAt: r.deliveredAt, sentAt: r.sentAt })),
    );
    const counts = await app.ledger.counts();
    const ok = verdict.missing === 0 && verdict.duplicated === 0 && verdict.outOfOrder === 0 && counts.dead === 0;
    say('');
    say(`Result after ${((Date.now() - started) / 1000).toFixed(1)} s:`);
    say(formatVerdict(verdict));
    say(`  ${'dead'.padEnd(24)} ${String(counts.dead).padStart(8)}`);
    say(`  ${'Chatwoot calls / message'.padEnd(24)} ${(app.chatwootCalls() / Math.max(1, verdict.delivered)).toFixed(2).padStart(8)}`);
    say(ok ? '\nEvery message is in Chatwoot exactly once, in order.' : '\nVERIFICATION FAILED: see the figures above.');
    return ok;
  } finally {
    await app.stop().catch(() => {});
    await evo.close().catch(() => {});
    await cw.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
