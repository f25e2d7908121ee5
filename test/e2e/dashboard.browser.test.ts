import { describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { chromiumAvailable, launchChromium } from './dashboard.chromium.js';
import { cleanups, until } from '../helpers/lifecycle.js';

const WEBHOOK_TOKEN = 'browser-webhook-token-0123456789';
const USER = 'operator';
const PASSWORD = 'browser-test-password-42';
const INSTANCE = 'desk';
const WA_ID = 'BROWSER-DEAD-1';

const cleanup = cleanups();


if (chromiumAvailable()) {
  describe('dashboard in a real browser (headless Chromium)', () => {
    it('an operator logs in, retries a dead message once Chatwoot is fixed, and sees it delivered exactly once', async () => {
      // Chatwoot fails every request, and one attempt is all a message gets: it dies on arrival.
      const cw = await createChatwootSim({ seed: 21 });
      cleanup.push(() => cw.close());
      cw.setFaults({ errorRate: 1 });
      const app = await createEvosync(
        loadConfig({
          EVOSYNC_DATABASE_URL: tempSqliteUrl(), EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0',
          CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
          EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN, EVOSYNC_MAX_ATTEMPTS: '1', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RECONCILE_INTERVAL_MS: '0',
          EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: PASSWORD, EVOSYNC_LOG_LEVEL: 'silent',
        }),
        { logger: createLogger('silent') },
      );
      cleanup.push(() => app.stop());
      const address = await app.listen();
      const posted = await fetch(`${address}/webhooks/evolution`, {
        method: 'POST',
        headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'messages.upsert', instance: INSTANCE, destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null, data: { key: { remoteJid: '5511988887777@s.whatsapp.net', fromMe: false, id: WA_ID }, pushName: 'Ana', message: { conversation: 'Where is my order?' }, messageType: 'conversation', messageTimestamp: Math.floor(Date.now() / 1000) } }),
      });
      expect(posted.status).toBe(200);
      await until('the message to die', async () => (await app.ledger.getMessage(INSTANCE, WA_ID))?.state === 'dead');

      const browser: Browser = await launchChromium();
      cleanup.push(() => browser.close());
      const page = await browser.newPage();
      await page.goto(`${address}/`);
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.fill('#user', USER);
      await page.fill('#password', 'a wrong password');
      await page.click('button[type=submit]');
      await page.getByRole('alert').getByText('Wrong user or password.').waitFor();
      await page.fill('#user', USER);
      await page.fill('#password', PASSWORD);
      await page.click('button[type=submit]');
      await page.getByRole('heading', { name: 'Overview' }).waitFor();

      // The dead message is listed with its reason; the instance card counts it.
      const row = page.locator(`tr[data-message="${WA_ID}"]`);
      await row.waitFor();
      expect(await row.locator('td.err').textContent()).toContain('CHATWOOT_SERVER_ERROR');
      expect(await page.locator(`section[data-instance="${INSTANCE}"] svg`).count()).toBe(1);

      cw.setFaults({ errorRate: 0 });
      await row.getByRole('button', { name: 'Retry' }).click();
      await page.getByRole('status').getByText('back in its chat').waitFor();

      // The operator follows it on its trace page until it is delivered.
      await until('the trace page to show it delivered', async () => {
        await page.goto(`${address}/trace/${WA_ID}`);
        return (await page.locator('[data-state]').first().getAttribute('data-state')) === 'delivered';
      });
      expect(await page.locator('body').textContent()).toContain(`WAID:${WA_ID}`); // Chatwoot's copy, read from its API
      const copies = cw.snapshot().messages.filter((m) => m.source_id === `WAID:${WA_ID}`);
      expect(copies).toHaveLength(1);
      expect(copies[0]?.content).toBe('Where is my order?');
      await page.goto(`${address}/`);
      expect(await page.locator(`tr[data-message="${WA_ID}"]`).count()).toBe(0);
    }, 90_000);
  });
} else {
  describe.skip('dashboard in a real browser: Chromium not installed', () => it('skipped', () => {}));
}
