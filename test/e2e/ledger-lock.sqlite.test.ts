import { expect, it } from 'vitest';
import { createChatwootSim } from '../../sim/chatwoot/index.js';
import { EvosyncProcess, freePort } from '../helpers/evosync-process.js';
import { tempSqliteUrl } from '../helpers/services.js';

/** Scale-out needs PostgreSQL: a second process on one SQLite file must refuse to start, and say why. */
it('a second evosync process on the same SQLite ledger refuses to start (LEDGER_LOCKED) and says to use PostgreSQL', async () => {
  const cw = await createChatwootSim({ seed: 3 });
  const env = {
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    CHATWOOT_URL: cw.url,
    CHATWOOT_API_TOKEN: cw.token,
    CHATWOOT_ACCOUNT_ID: String(cw.accountId),
    CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOSYNC_WEBHOOK_TOKEN: 'lock-test-token-0123456789',
    EVOSYNC_LOG_LEVEL: 'warn',
  };
  const first = new EvosyncProcess(env, await freePort());
  const second = new EvosyncProcess(env, await freePort());
  try {
    await first.start();
    await expect(second.start()).rejects.toThrow(/exited with 1/);
    expect(second.output).toMatch(/The SQLite ledger is in use by process \d+ .*use PostgreSQL for several processes/);
    // The first one is unaffected.
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
  } finally {
    await second.kill9();
    await first.stop();
    await cw.close();
  }
}, 60_000);
