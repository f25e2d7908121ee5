import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's package; playwright-core never downloads a browser of its own. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/**
 * Whether the browser tests can run. Like the other real services: missing on a newcomer's machine
 * skips loudly; with EVOSYNC_REQUIRE_SERVICES=1 (CI) it is a failure, so a lost browser can never
 * turn the run green by skipping.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const problem = `Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (process.env['EVOSYNC_REQUIRE_SERVICES'] === '1') throw new Error(`Chromium is required (EVOSYNC_REQUIRE_SERVICES=1): ${problem}`);
  console.warn(`\n*** SKIPPING browser tests: ${problem}. ***\n`);
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
}
