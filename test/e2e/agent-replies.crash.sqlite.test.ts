import { describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { ChatwootApi } from '../../src/chatwoot/api.js';
import { replyKey } from '../../src/domain/agent-reply.js';
import { connect } from '../../src/ledger/connect.js';
import { SqlLedger } from '../../src/ledger/sql-ledger.js';
import { conversationFor, CW_SECRET, until } from '../helpers/agent-replies.js';
import { EvosyncProcess, freePort } from '../helpers/evosync-process.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { cleanups } from '../helpers/lifecycle.js';

/**
 * evosync is SIGKILLed while Evolution is sending an agent reply (it has sent and stored it, the
 * answer has not come back). The next process must find the reply on WhatsApp, not send it again.
 */
const cleanup = cleanups();

describe('agent reply sent while evosync dies', () => {
  it('is found after the restart and never sent twice', { timeout: 60_000 }, async () => {
    const cw: ChatwootSim = await createChatwootSim({ seed: 31 });
    cleanup.push(() => cw.close());
    const evo: EvolutionSim = await createEvolutionSim({ seed: 31, instances: ['crash'] });
    cleanup.push(() => evo.close());
    const db = tempSqliteUrl();
    const proc = new EvosyncProcess(
      {
        EVOSYNC_DATABASE_URL: db, CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId),
        CHATWOOT_INBOX_ID: String(cw.inboxId), EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_INSTANCES: 'crash',
        EVOSYNC_WEBHOOK_TOKEN: 'crash-webhook-token-0123456789', CHATWOOT_WEBHOOK_SECRET: CW_SECRET, EVOSYNC_RECONCILE_INTERVAL_MS: '0',
        EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '100', EVOSYNC_HTTP_TIMEOUT_MS: '20000', EVOSYNC_LOG_LEVEL: 'warn',
      },
      await freePort(),
    );
    cleanup.push(() => proc.stop());
    await proc.start();
    cw.setInboxWebhook(`${proc.url}/webhooks/chatwoot`, CW_SECRET);
    const api = new ChatwootApi({ url: cw.url, apiToken: cw.token, accountId: cw.accountId, inboxId: cw.inboxId }, 5000);
    cleanup.push(() => api.close());
    const { conversationId } = await conversationFor(api, '5511933330001');

    // Every send goes through on WhatsApp, and then Evolution never answers.
    evo.setSendFaults({ timeoutAfterSendRate: 1, hangMs: 30_000 });
    const reply = await cw.agentReply(conversationId, 'sent while evosync dies');
    await until('sent on WhatsApp', () => evo.sent('crash').length === 1);
    await proc.kill9();
    evo.setSendFaults({ timeoutAfterSendRate: 0 });
    await proc.start();

    await until('reply settled', async () => (await proc.stats()).ledger.pending === 0, 30_000);
    await proc.stop();
    expect(evo.sent('crash')).toHaveLength(1);
    const ledger = new SqlLedger(await connect(db));
    cleanup.push(() => ledger.close());
    const row = await ledger.getMessage('crash', replyKey(reply['id'] as number));
    expect(row).toMatchObject({ state: 'delivered', sentWaId: evo.sent('crash')[0]?.key.id });
  });
});
