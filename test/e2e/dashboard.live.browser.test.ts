import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { DASHBOARD_PASSWORD as PASSWORD, DASHBOARD_USER as USER, DASHBOARD_WEBHOOK_TOKEN as WEBHOOK_TOKEN, startDashboardApp } from '../helpers/dashboard-app.js';
import { cleanups, until } from '../helpers/lifecycle.js';
import { chromiumAvailable, launchChromium } from './dashboard.chromium.js';

const INSTANCE = 'desk';

const cleanup = cleanups();

async function logIn(page: Page, address: string): Promise<void> {
  await page.goto(`${address}/login`);
  await page.fill('#user', USER);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: /Overview/ }).waitFor();
}

if (chromiumAvailable()) {
  describe('dashboard live updates in a real browser (headless Chromium)', () => {
    it('counters change without a reload as messages are delivered, under the page\'s CSP, and the page without JavaScript is the static one', async () => {
      const { address } = await startDashboardApp(cleanup, { seed: 41 });

      const browser: Browser = await launchChromium();
      cleanup.push(() => browser.close());
      const page = await browser.newPage();
      // Chromium reports a CSP violation as a console error ("Refused to …") and as an event.
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      // Given as text: this code runs in the page (the test's TypeScript has no DOM types).
      await page.addInitScript(`window.violations = []; document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));`);
      await logIn(page, address);

      const badge = page.locator('#live-state');
      await until('the live badge', async () => (await badge.textContent()) === 'live', 10_000);
      expect(await badge.getAttribute('class')).toBe('badge ok');
      const delivered = page.locator('#live-summary > .stats [data-stat="delivered"] b');
      expect(await delivered.textContent()).toBe('0');
      expect(await page.locator(`section[data-instance="${INSTANCE}"]`).count()).toBe(0);

      // From here on, the page must not be loaded again.
      let navigations = 0;
      page.on('framenavigated', (f) => {
        if (f === page.mainFrame()) navigations += 1;
      });
      await page.evaluate(`window.marker = 'same page'`);

      const sentAt = Date.now();
      for (const id of ['LIVE-B-1', 'LIVE-B-2', 'LIVE-B-3']) {
        const res = await fetch(`${address}/webhooks/evolution`, {
          method: 'POST',
          headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ event: 'messages.upsert', instance: INSTANCE, destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null, data: { key: { remoteJid: '5511966665555@s.whatsapp.net', fromMe: false, id }, pushName: 'Ana', message: { conversation: `hi ${id}` }, messageType: 'conversation', messageTimestamp: Math.floor(Date.now() / 1000) } }),
        });
        expect(res.status).toBe(200);
      }
      await until('the delivered counter to show 3', async () => (await delivered.textContent()) === '3', 10_000);
      const tookMs = Date.now() - sentAt;
      // The instance's card appeared too, with its own counts.
      const card = page.locator(`section[data-instance="${INSTANCE}"]`);
      await until('the instance card to count them', async () => (await card.locator('[data-stat="delivered-hour"] b').textContent()) === '3', 5000);
      expect(await card.locator('[data-stat="pending"] b').textContent()).toBe('0');

      expect(navigations).toBe(0);
      expect(await page.evaluate('window.marker')).toBe('same page');
      expect(await page.evaluate('window.violations')).toEqual([]);
      expect(problems).toEqual([]);
      console.info('live browser update', { tookMs });

      // Without JavaScript: the same overview, with the same counts, and no badge.
      const context = await browser.newContext({ javaScriptEnabled: false });
      const still = await context.newPage();
      await logIn(still, address);
      expect(await still.locator('#live-summary > .stats [data-stat="delivered"] b').textContent()).toBe('3');
      expect(await still.locator('#live-state').isHidden()).toBe(true);
      await context.close();
    }, 90_000);
  });
} else {
  describe.skip('dashboard live updates in a real browser: Chromium not installed', () => it('skipped', () => {}));
}
