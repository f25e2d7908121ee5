import { ChatwootApi } from '../chatwoot/api.js';
import { loadConfig, targetFor } from '../config/load.js';
import { EvolutionClient } from '../evolution/client.js';
import { connect } from '../ledger/connect.js';
import { SqlLedger } from '../ledger/sql-ledger.js';
import { systemClock } from '../lib/clock.js';
import { type CheckReport, checkDrift } from '../reconcile/check.js';
import { NOT_CONFIGURED_MESSAGE, ReconcileError } from '../reconcile/errors.js';
import { parseChat, parseSince } from '../reconcile/since.js';

export interface CheckArgs {
  instance: string;
  since: string;
  chat?: string;
  json: boolean;
}

/**
 * `evosync check`: read-only drift report, Evolution ↔ ledger ↔ Chatwoot, and Chatwoot's agent
 * replies ↔ ledger, for one instance and window. Exit 0 when clean, 1 on any drift (so it can gate
 * scripts and alerts).
 */
export async function checkCommand(env: NodeJS.ProcessEnv, args: CheckArgs, out: (line: string) => void): Promise<number> {
  const config = loadConfig(env, { require: 'database' });
  if (!config.evolution.url || !config.evolution.apiKey) throw new ReconcileError('RECONCILE_NOT_CONFIGURED', NOT_CONFIGURED_MESSAGE);
  const target = targetFor(config, args.instance);
  if (!target.url || !target.apiToken) throw new ReconcileError('RECONCILE_INPUT_INVALID', `no Chatwoot target for instance ${args.instance}: set CHATWOOT_* or EVOSYNC_CONFIG_FILE`);
  const now = systemClock.now();
  const fromMs = parseSince(args.since, now);
  const chat = args.chat ? parseChat(args.chat) : null;
  // Read-only: no process lock, so it works beside a running service.
  const ledger = new SqlLedger(await connect(config.database.url, { exclusive: false }));
  const client = new EvolutionClient(config.evolution.url, config.evolution.apiKey, config.delivery.httpTimeoutMs);
  const chatwoot = new ChatwootApi(target, config.delivery.httpTimeoutMs);
  try {
    const agentReplies = target.inboxId > 0 ? { config, maxAgeMs: config.agentReplies.maxAgeMs, nowMs: now } : undefined;
    const report = await checkDrift({ client, ledger, chatwoot, pageSize: config.reconcile.pageSize, ...(agentReplies ? { agentReplies } : {}) }, { instance: args.instance, fromMs, toMs: now, chat });
    if (args.json) out(JSON.stringify(report));
    else printReport(report, out);
    return report.clean ? 0 : 1;
  } finally {
    await Promise.allSettled([client.close(), chatwoot.close(), ledger.close()]);
  }
}

function printReport(r: CheckReport, out: (line: string) => void): void {
  out(`check ${r.instance} ${new Date(r.windowFrom).toISOString()} → ${new Date(r.windowTo).toISOString()}${r.chat ? ` chat ${r.chat}` : ''}: ${r.compared} messages compared`);
  const ids = (l: string[]) => (l.length > 5 ? `${l.slice(0, 5).join(' ')} …(+${l.length - 5})` : l.join(' '));
  for (const c of r.chats) {
    out(`  ${c.chat}`);
    if (c.missingInLedger.length) out(`    missing in ledger     ${c.missingInLedger.length}  ${ids(c.missingInLedger)}`);
    if (c.missingInChatwoot.length) out(`    missing in Chatwoot   ${c.missingInChatwoot.length}  ${ids(c.missingInChatwoot)}`);
    if (c.duplicatedInChatwoot.length) out(`    duplicated in Chatwoot ${c.duplicatedInChatwoot.length}  ${ids(c.duplicatedInChatwoot)}`);
    if (c.outOfOrder.length) out(`    out of order          ${c.outOfOrder.length}  ${ids(c.outOfOrder)}`);
    if (c.pending) out(`    pending (in flight)   ${c.pending}`);
    if (c.lateArrivals) out(`    late arrivals (marked) ${c.lateArrivals}`);
  }
  const a = r.agentReplies;
  if (a) {
    out(`  agent replies (Chatwoot → WhatsApp): ${a.compared} compared in ${a.conversations} conversations`);
    if (a.missingInLedger.length) out(`    missing in ledger     ${a.missingInLedger.length}  ${ids(a.missingInLedger)}`);
    if (a.notSent.length) out(`    not sent (dead)       ${a.notSent.length}  ${ids(a.notSent)}`);
    if (a.pending) out(`    pending (in flight)   ${a.pending}`);
  }
  const t = r.totals;
  out(`  totals: missing in ledger ${t.missingInLedger}, missing in Chatwoot ${t.missingInChatwoot}, duplicated ${t.duplicatedInChatwoot}, out of order ${t.outOfOrder}, pending ${t.pending}, late ${t.lateArrivals}${r.unusable ? `, unreadable stored rows ${r.unusable}` : ''}`);
  if (a) out(`  agent replies: missing in ledger ${t.agentRepliesMissingInLedger}, not sent ${t.agentRepliesNotSent}, pending ${a.pending}`);
  out(r.clean ? 'clean: no drift' : 'DRIFT found (reconcile repairs what is missing in the ledger)');
}
