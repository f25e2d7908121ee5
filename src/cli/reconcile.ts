import { ChatwootApi } from '../chatwoot/api.js';
import { loadConfig, targetFor } from '../config/load.js';
import { EvolutionClient } from '../evolution/client.js';
import { Intake } from '../ingest/intake.js';
import { connect } from '../ledger/connect.js';
import { SqlLedger, migrateLedger } from '../ledger/sql-ledger.js';
import { systemClock } from '../lib/clock.js';
import { createLogger } from '../lib/logger.js';
import { NOT_CONFIGURED_MESSAGE, ReconcileError } from '../reconcile/errors.js';
import { parseChat, parseSince } from '../reconcile/since.js';
import { reconcile } from '../reconcile/run.js';

export interface ReconcileArgs {
  instance: string;
  since: string;
  chat?: string;
  json: boolean;
}

/**
 * `evosync reconcile`: one run, in this process, on the ledger, in both directions (Evolution's stored
 * messages and the inbox's agent replies). Repaired messages are committed as
 * pending; the service delivers them (PostgreSQL: at once, the running service polls the ledger;
 * SQLite: on its next start, since the service holds the file while it runs — use
 * `POST /api/reconcile` then). Exit 0 when the run completed, 1 when it stopped early.
 */
export async function reconcileCommand(env: NodeJS.ProcessEnv, args: ReconcileArgs, out: (line: string) => void): Promise<number> {
  const config = loadConfig(env, { require: 'database' });
  if (!config.evolution.url || !config.evolution.apiKey) throw new ReconcileError('RECONCILE_NOT_CONFIGURED', NOT_CONFIGURED_MESSAGE);
  const now = systemClock.now();
  const fromMs = parseSince(args.since, now);
  const chat = args.chat ? parseChat(args.chat) : null;
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  // One run, nothing else to keep responsive meanwhile: its batches commit inline, without a writer thread's memory.
  const conn = await connect(config.database.url, { exclusive: true, writerThread: false });
  const client = new EvolutionClient(config.evolution.url, config.evolution.apiKey, config.delivery.httpTimeoutMs);
  const target = targetFor(config, args.instance);
  // Agent replies are looked for in the instance's inbox; without a Chatwoot target, WhatsApp → Chatwoot only.
  const chatwoot = target.url && target.apiToken && target.inboxId > 0 ? new ChatwootApi(target, config.delivery.httpTimeoutMs) : null;
  let ledger: SqlLedger | null = null;
  try {
    await migrateLedger(conn);
    ledger = new SqlLedger(conn);
    const intake = new Intake(ledger, systemClock, logger, { batchMax: config.ingest.batchMax, orderWindowMs: config.ingest.orderWindowMs, instances: config.instances });
    const run = await reconcile(
      {
        client, ledger, intake, clock: systemClock, logger, pageSize: config.reconcile.pageSize, batchMax: config.ingest.batchMax,
        agentReplies: chatwoot ? { api: chatwoot, config, maxAgeMs: config.agentReplies.maxAgeMs } : null,
      },
      { instance: args.instance, fromMs, toMs: now, chat, trigger: 'cli' },
    );
    await intake.close();
    if (args.json) out(JSON.stringify(run));
    else {
      out(`reconcile ${run.instance} ${new Date(run.windowFrom).toISOString()} → ${new Date(run.windowTo).toISOString()}${chat ? ` chat ${chat}` : ''}`);
      for (const k of ['pages', 'compared', 'missing', 'repaired', 'unusable'] as const) out(`  ${k.padEnd(10)} ${run[k]}`);
      if (chatwoot) {
        out(`  agent replies (Chatwoot → WhatsApp): ${run.agentConversations} conversations, ${run.agentCompared} compared, ${run.agentMissing} missing, ${run.agentRepaired} repaired`);
      }
      out(`  ${'durationMs'.padEnd(10)} ${run.durationMs}`);
      if (run.error) out(`  error      ${run.error}`);
    }
    return run.error ? 1 : 0;
  } finally {
    await client.close();
    await chatwoot?.close();
    if (ledger) await ledger.close();
    else await conn.close();
  }
}
