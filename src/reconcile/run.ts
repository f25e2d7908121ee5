import type { ChatwootApi } from '../chatwoot/api.js';
import type { Config } from '../config/config.js';
import { coerceError } from '../errors.js';
import type { ReconcileRun } from '../ledger/ledger.js';
import type { Clock } from '../lib/clock.js';
import { reconcileAgentReplies } from './cw-to-whatsapp.js';
import { ReconcileError } from './errors.js';
import { type ReconcileRequest, reconcileWaToChatwoot, type WaToChatwootDeps } from './wa-to-chatwoot.js';

export interface ReconcileDeps extends WaToChatwootDeps {
  clock: Clock;
  /**
   * Chatwoot → WhatsApp: the Chatwoot target of the instance (its inbox is where agent replies are
   * looked for) and the age past which a reply is never sent. null = that direction is not compared
   * (no Chatwoot target).
   */
  agentReplies: { api: ChatwootApi; config: Config; maxAgeMs: number } | null;
}

/**
 * One reconcile run for an instance and window, in both directions, recorded as one row: WhatsApp
 * → Chatwoot (Evolution's stored messages the ledger lacks), then Chatwoot → WhatsApp (agent
 * replies the ledger lacks). A failure in one direction does not stop the other; both end up in
 * `error`. The run is always recorded, whatever failed.
 */
export async function reconcile(deps: ReconcileDeps, req: ReconcileRequest): Promise<ReconcileRun> {
  const startedAt = deps.clock.now();
  const run: ReconcileRun = {
    instance: req.instance, trigger: req.trigger, windowFrom: req.fromMs, windowTo: req.toMs, chat: req.chat,
    pages: 0, compared: 0, missing: 0, repaired: 0, unusable: 0,
    agentConversations: 0, agentCompared: 0, agentMissing: 0, agentRepaired: 0,
    error: null, startedAt, durationMs: 0,
  };
  await reconcileWaToChatwoot(deps, req, run);
  const stopped = deps.shouldStop?.() ?? false;
  if (deps.agentReplies && !stopped) {
    const a = deps.agentReplies;
    try {
      const stats = await reconcileAgentReplies(
        { api: a.api, config: a.config, maxAgeMs: a.maxAgeMs, ledger: deps.ledger, intake: deps.intake, batchMax: deps.batchMax, nowMs: deps.clock.now(), ...(deps.shouldStop ? { shouldStop: deps.shouldStop } : {}) },
        req,
        run,
      );
      if (stats.givenUp > 0) deps.logger.info({ instance: req.instance, givenUp: stats.givenUp }, 'agent replies evosync gave up on are left to the agent\'s Retry');
    } catch (error) {
      const text = error instanceof ReconcileError ? `${error.code}: ${error.message}` : coerceError(error).message;
      run.error = [run.error, `agent replies: ${text}`].filter(Boolean).join('; ');
    }
  }
  run.durationMs = deps.clock.now() - startedAt;
  try {
    await deps.ledger.recordReconcileRun(run);
  } catch (error) {
    deps.logger.error({ err: coerceError(error), instance: req.instance }, 'could not record the reconcile run');
  }
  const found = run.missing + run.agentMissing;
  const level = run.error ? 'warn' : found > 0 ? 'info' : 'debug';
  deps.logger[level]({ ...run }, run.error ? 'reconcile run stopped early' : 'reconcile run finished');
  return run;
}
