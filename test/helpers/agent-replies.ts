import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { ChatwootApi } from '../../src/chatwoot/api.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from './services.js';

export const WEBHOOK_TOKEN = 'agent-replies-webhook-token-0123';
export const CW_SECRET = 'chatwoot-inbox-secret-for-tests';
export const INSTANCE = 'ar';

export interface AgentRig {
  app: Evosync;
  evo: EvolutionSim;
  cw: ChatwootSim;
  api: ChatwootApi;
  address: string;
  close(): Promise<void>;
}

/**
 * Both simulators and an in-process evosync on SQLite, wired both ways: Evolution's webhook (echoes,
 * receipts) into evosync, the Chatwoot API inbox callback (4.13, signed) into evosync.
 */
export async function agentRig(opts: { seed?: number; extra?: Record<string, string>; signed?: boolean } = {}): Promise<AgentRig> {
  const cw = await createChatwootSim({ seed: opts.seed ?? 5 });
  const evo = await createEvolutionSim({ seed: opts.seed ?? 5, instances: [INSTANCE] });
  const env: Record<string, string> = {
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
    EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_INSTANCES: INSTANCE,
    EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN, CHATWOOT_WEBHOOK_SECRET: CW_SECRET,
    EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '50', EVOSYNC_RETRY_MAX_MS: '1000',
    EVOSYNC_HTTP_TIMEOUT_MS: '3000', EVOSYNC_LOG_LEVEL: 'silent', EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0', EVOSYNC_SHUTDOWN_GRACE_MS: '2000',
    ...opts.extra,
  };
  const app = await createEvosync(loadConfig(env), { logger: createLogger((process.env['TEST_LOG'] as 'info' | undefined) ?? 'silent') });
  const address = await app.listen();
  evo.setWebhook(INSTANCE, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } });
  cw.setInboxWebhook(`${address}/webhooks/chatwoot`, opts.signed === false ? null : CW_SECRET);
  const api = new ChatwootApi({ url: cw.url, apiToken: cw.token, accountId: cw.accountId, inboxId: cw.inboxId }, 5000);
  return {
    app, evo, cw, api, address,
    async close() {
      await app.stop().catch(() => {});
      await api.close();
      await cw.close();
      await evo.close();
    },
  };
}

/** A contact and conversation as evosync creates them: contact-inbox source_id = the chat JID. */
export async function conversationFor(api: ChatwootApi, phone: string): Promise<{ chat: string; conversationId: number }> {
  const chat = `${phone}@s.whatsapp.net`;
  const contact = await api.createContact({ inbox_id: api.target.inboxId, source_id: chat, name: `+${phone}`, identifier: chat, phone_number: `+${phone}` });
  if (!contact.ok) throw new Error(contact.failure.message);
  const conv = await api.createConversation({ inbox_id: api.target.inboxId, contact_id: contact.value.id, source_id: chat });
  if (!conv.ok) throw new Error(conv.failure.message);
  return { chat, conversationId: conv.value.id };
}

export { until } from './lifecycle.js';

/** Resolves once the Chatwoot simulator has delivered every webhook it queued. */
export async function webhooksIdle(r: { cw: ChatwootSim }): Promise<void> {
  await (await fetch(`${r.cw.url}/_sim/webhooks/idle`)).text();
}
