import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from './services.js';

export const DASHBOARD_USER = 'operator';
export const DASHBOARD_PASSWORD = 'live-updates-password-42';
export const DASHBOARD_WEBHOOK_TOKEN = 'live-webhook-token-0123456789';

/**
 * evosync in this process with its dashboard on, a fake Chatwoot of its own and a fresh SQLite
 * ledger, listening on a free port; both are stopped through `cleanup`.
 */
export async function startDashboardApp(cleanup: (() => Promise<unknown>)[], opts: { seed: number; env?: Record<string, string>; heartbeatMs?: number }): Promise<{ app: Evosync; address: string }> {
  const cw = await createChatwootSim({ seed: opts.seed });
  cleanup.push(() => cw.close());
  const app = await createEvosync(
    loadConfig({
      EVOSYNC_DATABASE_URL: tempSqliteUrl(), EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0',
      CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOSYNC_WEBHOOK_TOKEN: DASHBOARD_WEBHOOK_TOKEN, EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RECONCILE_INTERVAL_MS: '0',
      EVOSYNC_DASHBOARD_USER: DASHBOARD_USER, EVOSYNC_DASHBOARD_PASSWORD: DASHBOARD_PASSWORD, EVOSYNC_LOG_LEVEL: 'silent', ...opts.env,
    }),
    { logger: createLogger('silent'), ...(opts.heartbeatMs ? { liveHeartbeatMs: opts.heartbeatMs } : {}) },
  );
  cleanup.push(() => app.stop());
  return { app, address: await app.listen() };
}
