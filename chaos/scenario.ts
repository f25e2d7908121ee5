/**
 * The chaos run against evosync: the built binary as a child process on a real ledger (SQLite or
 * PostgreSQL), Evolution's events over a private RabbitMQ node, both simulators faulty, the
 * process SIGKILLed, the broker's connections closed and the broker restarted. Then it settles
 * (reconcile repairs what Evolution never published and the agent replies whose webhook found
 * evosync dead) and the verdict compares what WhatsApp holds with what Chatwoot shows, both ways.
 */
import { type ChatwootSim, createChatwootSim } from '../sim/chatwoot/index.js';
import { createEvolutionSim, type RabbitmqSetup, type StoredMessage } from '../sim/evolution/index.js';
import type { LedgerMessage } from '../src/ledger/ledger.js';
import { connect } from '../src/ledger/connect.js';
import { SqlLedger } from '../src/ledger/sql-ledger.js';
import { type ChaosPlan, type Contestant, type DirectionVerdict, drive, type FaultLog, INSTANCE, toDirection, verdictToChatwoot, verdictToWhatsapp } from './drive.js';
import { EvosyncChild, freePort } from './evosync-child.js';

export interface ChaosBroker {
  url: string;
  ctl(...args: string[]): Promise<string>;
}

export interface ChaosOptions extends ChaosPlan {
  databaseUrl: string;
  broker: ChaosBroker;
  /** Scheduled reconcile interval of the evosync under test (one on-demand run follows the traffic too). */
  reconcileIntervalMs: number;
  settleTimeoutMs: number;
  log?: (line: string) => void;
}

export interface ChatwootFaultCounts {
  requests: number;
  errors5xx: number;
  rateLimited: number;
}

export interface ChaosResult {
  toChatwoot: DirectionVerdict;
  toWhatsapp: DirectionVerdict & { echoedBack: number };
  faults: FaultLog;
  chatwoot: ChatwootFaultCounts;
  /** Repairs made by reconciles during the run (both directions). */
  repaired: { messages: number; agentReplies: number; runs: number };
  /** How the WhatsApp messages reached the ledger (amqp, reconcile, ...): what each path carried. */
  bySource: Record<string, number>;
  runMs: number;
  /** Tail of evosync's output when something is not zero (for the report). */
  diagnostics: string[];
}

const WEBHOOK_TOKEN = 'chaos-webhook-token-0123456789';
const CW_SECRET = 'chaos-inbox-secret';
const API_TOKEN = 'chaos-operator-api-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The faults every run applies, whatever its size (the small run differs only in size and outage length). */
export const CHATWOOT_FAULTS = { errorRate: 0.1, timeoutAfterCommitRate: 0.05, hangMs: 3000, webhookDuplicateRate: 0.05 } as const;
export const EVOLUTION_FAULTS = { dropRate: 0.03, duplicateRate: 0.05, receiptBeforeMessage: true } as const;
/** Allowance while a 429 burst is on: low, so each burst really answers 429s. */
export const BURST_REQUESTS_PER_MINUTE = 20;

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const cw = await createChatwootSim({ seed: o.seed, requestsPerMinute: BURST_REQUESTS_PER_MINUTE });
  const evo = await createEvolutionSim({ seed: o.seed, instances: [INSTANCE] });
  // The reconcile window covers the whole generated history (one message a second, see drive.ts).
  const windowMs = (o.messages + 3600) * 1000;
  const proc = new EvosyncChild(
    {
      EVOSYNC_DATABASE_URL: o.databaseUrl,
      CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      CHATWOOT_WEBHOOK_SECRET: CW_SECRET,
      EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_INSTANCES: INSTANCE,
      EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
      EVOSYNC_AMQP_URL: o.broker.url, EVOSYNC_AMQP_MODE: 'instance',
      EVOSYNC_RECONCILE_INTERVAL_MS: String(o.reconcileIntervalMs), EVOSYNC_RECONCILE_WINDOW_MS: String(windowMs),
      EVOSYNC_DELIVERY_CONCURRENCY: '64', EVOSYNC_RETRY_BASE_MS: '100', EVOSYNC_RETRY_MAX_MS: '2000', EVOSYNC_LEASE_MS: '3000',
      // Below the simulator's 3 s hang, so a timeout after commit costs a lane 2 s, not 30.
      EVOSYNC_HTTP_TIMEOUT_MS: '2000',
      // Receipts of a message Evolution never published wait for the reconcile this long, then are skipped.
      EVOSYNC_RECEIPT_WAIT_MS: '5000', EVOSYNC_REFERENCE_WAIT_MS: '5000',
      EVOSYNC_LOG_LEVEL: 'warn',
    },
    await freePort(),
    API_TOKEN,
  );
  // Evolution reconnects after 5 s·2^n and gives up after 10 tries; shortened so the run is brief.
  const evoRabbit: RabbitmqSetup = { uri: o.broker.url, mode: 'instance', reconnectBaseMs: 50, maxReconnectAttempts: 100_000 };
  const evosync: Contestant = {
    kill: () => proc.kill9(),
    start: () => proc.start(),
    closeConnections: async () => {
      await o.broker.ctl('close_all_connections', 'chaos run');
    },
    restartBroker: async () => {
      await o.broker.ctl('stop_app');
      await o.broker.ctl('start_app');
      // The simulated Evolution (like Evolution: amqplib without a connect timeout) can hang in a
      // reconnect made while the node was stopping and then drop every event; set it up again.
      await evo.setRabbitmq(evoRabbit);
    },
  };
  const diagnostics: string[] = [];
  const bySource: Record<string, number> = {};
  try {
    await proc.start();
    for (const t = Date.now(); !(await fetch(`${proc.url}/readyz`).then((r) => r.ok, () => false)); await sleep(100)) {
      if (Date.now() - t > 30_000) throw new Error(`evosync never ready\n${proc.output}`);
    }
    cw.setInboxWebhook(`${proc.url}/webhooks/chatwoot`, CW_SECRET);
    await evo.setRabbitmq(evoRabbit);
    evo.setFaults(EVOLUTION_FAULTS);
    cw.setFaults(CHATWOOT_FAULTS);

    const run = await drive(o, evo, cw, evosync, log);

    // On demand, once the traffic is over, beside the schedule: the last events Evolution dropped
    // are repaired now rather than at the next scheduled round. Busy (a scheduled run) = try again.
    // Not awaited before measuring: a run's own length must not pass for time to settle.
    const reconciling = (async () => {
      for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(1000)) {
        const r = await fetch(`${proc.url}/api/reconcile`, {
          method: 'POST', headers: { ...proc.apiHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ instance: INSTANCE, sinceMs: windowMs }),
        }).catch(() => null);
        if (r?.ok) {
          const body = (await r.json()) as { repaired: number; agentRepaired: number };
          log(`reconcile on demand: ${body.repaired} messages and ${body.agentRepaired} agent replies repaired`);
          return;
        }
        if (r && r.status !== 409) {
          // A run that failed (Chatwoot down or faulty past its retries) is left to the schedule.
          log(`reconcile on demand answered ${r.status}: ${(await r.text()).slice(0, 300)}`);
          return;
        }
      }
    })();

    const ids = run.messages.map((m) => `WAID:${m.key.id}`);
    let toCwAt: number | null = null;
    let toWaAt: number | null = null;
    for (const deadline = run.endedAt + o.settleTimeoutMs; ; await sleep(1000)) {
      const now = Date.now();
      if (toCwAt === null) {
        const shown = new Set(cw.snapshot().messages.map((m) => m.source_id));
        if (ids.every((id) => shown.has(id))) toCwAt = now;
      }
      if (toWaAt === null) {
        const v = verdictToWhatsapp(run.replies, evo, cw, []);
        if (v.missing === 0) toWaAt = now;
      }
      const st = await proc.stats();
      if (toCwAt !== null && toWaAt !== null && st?.ledger.pending === 0) break;
      if (now > deadline) {
        log(`not settled after ${o.settleTimeoutMs / 1000} s: ${JSON.stringify(st?.ledger ?? null)}`);
        diagnostics.push(`not settled after ${o.settleTimeoutMs / 1000} s: ledger ${JSON.stringify(st?.ledger ?? null)}`, proc.output.slice(-4000));
        break;
      }
    }
    await reconciling;
    await proc.stop();

    const ledger = new SqlLedger(await connect(o.databaseUrl));
    let toCw: DirectionVerdict;
    let toWa: DirectionVerdict & { echoedBack: number };
    let repaired: ChaosResult['repaired'];
    try {
      const rows = await ledger.listMessages({ instance: INSTANCE, limit: 10_000_000 });
      const timings = rows.map((r) => ({ waId: r.waId, receivedAt: r.receivedAt, deliveredAt: r.deliveredAt, sentAt: r.sentAt }));
      const dead = rows.filter((r) => r.state === 'dead');
      for (const d of dead.slice(0, 10)) diagnostics.push(`dead: ${d.direction} ${d.event} ${d.waId} after ${d.attempts} attempts: ${d.lastError}`);
      const deadIn = (dir: string) => dead.filter((r) => r.direction === dir).length;
      const runs = await ledger.listReconcileRuns(INSTANCE, 10_000);
      repaired = { messages: runs.reduce((n, r) => n + r.repaired, 0), agentReplies: runs.reduce((n, r) => n + r.agentRepaired, 0), runs: runs.length };
      diagnostics.push(...disorder(run.messages, cw, rows));
      const wanted = new Set(run.messages.map((m) => m.key.id));
      for (const r of rows) if (r.direction === 'to_chatwoot' && wanted.has(r.waId)) bySource[r.source] = (bySource[r.source] ?? 0) + 1;
      toCw = toDirection(verdictToChatwoot(run.messages, cw, timings), deadIn('to_chatwoot'), toCwAt === null ? null : toCwAt - run.endedAt);
      const wa = verdictToWhatsapp(run.replies, evo, cw, timings);
      toWa = { ...toDirection(wa, deadIn('to_whatsapp'), toWaAt === null ? null : toWaAt - run.endedAt), echoedBack: wa.echoedBack };
    } finally {
      await ledger.close();
    }
    if (failures({ toChatwoot: toCw, toWhatsapp: toWa }).length > 0) diagnostics.push('--- evosync output (tail) ---', proc.output.slice(-6000));
    const s = cw.stats();
    const errors5xx = Object.entries(s.byStatus).filter(([k]) => k.startsWith('5')).reduce((n, [, v]) => n + v, 0);
    return { toChatwoot: toCw, toWhatsapp: toWa, faults: run.faults, chatwoot: { requests: s.requests, errors5xx, rateLimited: s.rateLimited }, repaired, bySource, runMs: Date.now() - started, diagnostics };
  } catch (error) {
    (error as Error).message += `\n--- evosync output ---\n${proc.output.slice(-4000)}`;
    throw error;
  } finally {
    await proc.kill9().catch(() => undefined);
    await evo.setRabbitmq(null).catch(() => undefined);
    await evo.close().catch(() => undefined);
    await cw.close().catch(() => undefined);
  }
}

/** The messages shown out of WhatsApp order although both were in the ledger in time, with their history. */
function disorder(messages: StoredMessage[], cw: ChatwootSim, rows: LedgerMessage[]): string[] {
  const byId = new Map(messages.map((m) => [m.key.id, m]));
  const row = new Map(rows.map((r) => [r.waId, r]));
  const perChat = new Map<string, { m: StoredMessage; seq: number }[]>();
  const shownAt = new Map<string, number>();
  for (const s of cw.snapshot().messages) {
    const m = s.source_id?.startsWith('WAID:') ? byId.get(s.source_id.slice(5)) : undefined;
    if (!m) continue;
    const list = perChat.get(m.canonicalJid) ?? [];
    list.push({ m, seq: s.seq });
    shownAt.set(m.key.id, s.created_at);
    perChat.set(m.canonicalJid, list);
  }
  const out: string[] = [];
  const describe = (m: StoredMessage) => {
    const r = row.get(m.key.id);
    return `${m.key.id} ts ${m.messageTimestamp} ${m.messageType}${m.key.fromMe ? ' fromMe' : ''} received ${r?.receivedAt} sent ${r?.sentAt} delivered ${r?.deliveredAt} attempts ${r?.attempts} source ${r?.source} shown in Chatwoot at ${shownAt.get(m.key.id)}`;
  };
  for (const [chat, list] of perChat) {
    list.sort((a, b) => a.seq - b.seq);
    let newest: StoredMessage | null = null;
    for (const { m } of list) {
      if (newest && m.messageTimestamp < newest.messageTimestamp) {
        const n = row.get(newest.key.id);
        const late = (row.get(m.key.id)?.receivedAt ?? 0) > (n?.sentAt ?? n?.deliveredAt ?? Infinity);
        if (!late && out.length < 20) out.push(`out of order in ${chat}: ${describe(m)} shown after ${describe(newest)}`);
      }
      if (!newest || m.messageTimestamp > newest.messageTimestamp) newest = m;
    }
  }
  return out;
}

/** Every figure that must be zero; non-empty = the run failed. */
export function failures(r: { toChatwoot: DirectionVerdict; toWhatsapp: DirectionVerdict }): string[] {
  const out: string[] = [];
  for (const [name, d] of [['WhatsApp → Chatwoot', r.toChatwoot], ['Chatwoot → WhatsApp', r.toWhatsapp]] as const) {
    for (const k of ['missing', 'duplicated', 'outOfOrder', 'splitChats', 'dead'] as const) {
      const v = d[k];
      if (v !== null && v > 0) out.push(`${name}: ${k} ${v}`);
    }
    if (d.settleMs === null) out.push(`${name}: never settled`);
  }
  return out;
}
