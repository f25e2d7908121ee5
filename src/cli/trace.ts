import { ChatwootApi } from '../chatwoot/api.js';
import { JsonHttp } from '../chatwoot/http.js';
import { loadConfig, targetFor } from '../config/load.js';
import { connect } from '../ledger/connect.js';
import { SqlLedger } from '../ledger/sql-ledger.js';
import { formatTrace } from '../trace/format.js';
import { traceMessage } from '../trace/trace.js';

/**
 * `evosync trace <whatsapp id | chatwoot id>`: the ledger row of a message and what Chatwoot and
 * Evolution hold for it. Read-only, so it runs beside the service (no SQLite process lock).
 * Exit 0 when the ledger knows the message, 1 when it does not.
 */
export async function traceCommand(env: NodeJS.ProcessEnv, id: string, json: boolean, out: (line: string) => void): Promise<number> {
  const config = loadConfig(env, { require: 'database' });
  const ledger = new SqlLedger(await connect(config.database.url, { exclusive: false }));
  const apis = new Map<string, ChatwootApi>();
  const evolution = config.evolution.url && config.evolution.apiKey ? new JsonHttp(config.evolution.url, { timeoutMs: config.delivery.httpTimeoutMs, headers: { apikey: config.evolution.apiKey }, connections: 2 }) : null;
  try {
    const result = await traceMessage(
      {
        ledger,
        evolution,
        chatwootFor: (instance) => {
          const t = targetFor(config, instance);
          if (!t.url || !t.apiToken) return null;
          const key = `${t.url}|${t.accountId}|${t.apiToken}`;
          let api = apis.get(key);
          if (!api) apis.set(key, (api = new ChatwootApi(t, config.delivery.httpTimeoutMs)));
          return api;
        },
      },
      id,
    );
    if (json) out(JSON.stringify(result, null, 2));
    else for (const line of formatTrace(result)) out(line);
    return result.traces.length > 0 ? 0 : 1;
  } finally {
    await Promise.allSettled([...apis.values()].map((a) => a.close()));
    await evolution?.close();
    await ledger.close();
  }
}
