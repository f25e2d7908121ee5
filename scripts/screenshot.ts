import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { createChatwootSim } from '../sim/chatwoot/index.js';
import { createEvolutionSim } from '../sim/evolution/index.js';
import { createEvosync } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { chatMessage } from './history.js';
import { connect } from '../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../src/ledger/sql-ledger.js';
import { createLogger } from '../src/lib/logger.js';

/**
 * `npm run screenshot`: the demo's setup (simulated Evolution and Chatwoot, SQLite ledger) with the
 * dashboard on, a little live traffic, two messages Chatwoot kills, and a reconcile clicked in the
 * browser; then docs/dashboard.png. The hour before now is seeded straight into the ledger (through
 * its port, as delivered traffic with realistic lags), since a live run of a few seconds would draw
 * a chart of one minute.
 */
const OUT = resolve(process.argv[2] ?? 'docs/dashboard.png');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const INSTANCES = ['support', 'sales'];

async function seedHistory(url: string, now: number): Promise<void> {
  const conn = await connect(url, { exclusive: true });
  await migrateLedger(conn);
  const ledger = new SqlLedger(conn);
  try {
    for (let m = 59; m >= 1; m--) {
      const minuteAt = Math.floor(now / 60_000) * 60_000 - m * 60_000;
      for (const [k, instance] of INSTANCES.entries()) {
        const n = Math.round((k === 0 ? 22 : 9) * (1 + 0.6 * Math.sin((m + k * 7) / 6)) + ((m * 7) % 5));
        const rows = Array.from({ length: n }, (_, i) => chatMessage(instance, `5511${String(900000000 + ((m * 31 + i) % 40)).padStart(9, '0')}@s.whatsapp.net`, Math.floor((minuteAt + i * 900) / 1000)));
        await ledger.insertMessages(rows.map((message) => ({ message, direction: 'to_chatwoot', source: 'webhook' })), minuteAt + 500);
        const lanes = await ledger.claimLanes('seed', 1000, minuteAt + 600, 60_000);
        let cw = m * 1000 + k * 100_000;
        for (const lane of lanes) {
          for (let head = await ledger.laneHead(lane.instance, lane.chat, 'skip'); head; head = await ledger.laneHead(lane.instance, lane.chat, 'skip')) {
            // A slow stretch around 25 minutes ago (Chatwoot throttled), otherwise sub-second.
            const lag = m > 22 && m < 28 ? 9_000 + (cw % 7) * 1_500 : 250 + (cw % 9) * 60;
            await ledger.complete([{ messageId: head.id, instance: lane.instance, chat: lane.chat, owner: 'seed', outcome: { state: 'delivered', cwMessageId: ++cw, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: head.receivedAt + lag, deadPolicy: 'skip' }]);
          }
        }
        await ledger.releaseLanes('seed');
      }
    }
  } finally {
    await ledger.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'evosync-shot-'));
  const dbUrl = `sqlite:${join(dir, 'ledger.db')}`;
  await seedHistory(dbUrl, Date.now());
  const cw = await createChatwootSim({ seed: 7 });
  const evo = await createEvolutionSim({ seed: 7, instances: INSTANCES });
  const token = randomBytes(16).toString('hex');
  const password = randomBytes(12).toString('base64url');
  const app = await createEvosync(
    loadConfig({
      EVOSYNC_DATABASE_URL: dbUrl, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0',
      CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_WEBHOOK_TOKEN: token, EVOSYNC_RECONCILE_INTERVAL_MS: '0',
      EVOSYNC_MAX_ATTEMPTS: '2', EVOSYNC_RETRY_BASE_MS: '100', EVOSYNC_RETRY_MAX_MS: '500',
      EVOSYNC_DASHBOARD_USER: 'operator', EVOSYNC_DASHBOARD_PASSWORD: password, EVOSYNC_LOG_LEVEL: 'silent',
    }),
    { logger: createLogger('silent') },
  );
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const address = await app.listen();
    for (const instance of INSTANCES) evo.setWebhook(instance, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${token}` } });
    await evo.setConnection('support', 'open');
    await evo.setConnection('sales', 'close', { statusReason: 428 });
    for (const [i, instance] of INSTANCES.entries()) {
      await evo.publish(evo.generate({ instance, chats: 12, messages: i === 0 ? 40 : 15, seed: 7 + i, kinds: { text: 90, image: 5, document: 5 }, lidRate: 0.1 }), { concurrency: 8 });
    }
    await waitFor(async () => (await app.ledger.counts()).pending === 0);
    // Two messages Chatwoot refuses on every attempt: they end dead, waiting for an operator.
    cw.setFaults({ errorRate: 1 });
    await evo.publish(evo.generate({ instance: 'sales', chats: 2, messages: 2, seed: 99, kinds: { text: 1 } }));
    await waitFor(async () => (await app.ledger.counts()).dead >= 2);
    cw.setFaults({ errorRate: 0 });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    await page.goto(`${address}/login`);
    await page.fill('#user', 'operator');
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.selectOption('select[name=instance]', 'support');
    await page.getByRole('button', { name: 'Reconcile now' }).click();
    await page.getByRole('status').waitFor();
    await page.goto(`${address}/`);
    await page.screenshot({ path: OUT, fullPage: true });
    console.log(`wrote ${OUT}`);
  } finally {
    await browser.close();
    await app.stop();
    await evo.close();
    await cw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFor(ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('timed out preparing the demo state');
    await new Promise((r) => setTimeout(r, 100));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
