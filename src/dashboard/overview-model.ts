import type { InstanceStateRecord, Ledger, LedgerCounts, LedgerMessage, ReconcileRun } from '../ledger/ledger.js';
import type { MinutePoint } from './views/chart.js';

export interface InstanceSummary {
  instance: string;
  /** Last `connection.update`; null when none was received. */
  connection: InstanceStateRecord | null;
  pending: number;
  dead: number;
  receivedLastHour: number;
  deliveredLastHour: number;
  /** Over the messages delivered in the last hour. */
  lagMsAvg: number | null;
  lagMsMax: number | null;
  /** The last 60 minutes, oldest first, the current minute last. */
  points: MinutePoint[];
}

export interface Overview {
  now: number;
  counts: LedgerCounts;
  instances: InstanceSummary[];
  dead: LedgerMessage[];
  runs: (ReconcileRun & { id: number })[];
}

const MINUTE_MS = 60_000;
export const CHART_MINUTES = 60;
export const DEAD_LIST_LIMIT = 100;

/** Everything the overview shows, from a handful of index-backed ledger reads. */
export async function overviewModel(ledger: Ledger, counts: () => Promise<LedgerCounts>, configured: readonly string[] | null, now: number): Promise<Overview> {
  const firstMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS - (CHART_MINUTES - 1) * MINUTE_MS;
  const [totals, states, backlog, buckets, dead, runs] = await Promise.all([
    counts(),
    ledger.instanceStates(),
    ledger.backlogByInstance(),
    ledger.throughputSince(firstMinute),
    ledger.listMessages({ state: 'dead', limit: DEAD_LIST_LIMIT }),
    ledger.listReconcileRuns(null, 20),
  ]);
  const names = new Set<string>(configured ?? []);
  for (const s of states) names.add(s.instance);
  for (const b of backlog) names.add(b.instance);
  for (const b of buckets) names.add(b.instance);
  const instances = [...names].sort().map((instance): InstanceSummary => {
    const points: MinutePoint[] = Array.from({ length: CHART_MINUTES }, (_, i) => ({ minuteAt: firstMinute + i * MINUTE_MS, received: 0, delivered: 0, lagMsMax: 0, lagMsAvg: 0 }));
    let lagSum = 0;
    let lagMax = 0;
    for (const b of buckets) {
      if (b.instance !== instance) continue;
      const p = points[Math.round((b.minuteAt - firstMinute) / MINUTE_MS)];
      if (!p) continue;
      p.received = b.received;
      p.delivered = b.delivered;
      p.lagMsMax = b.lagMsMax;
      p.lagMsAvg = b.delivered > 0 ? b.lagMsSum / b.delivered : 0;
      lagSum += b.lagMsSum;
      lagMax = Math.max(lagMax, b.lagMsMax);
    }
    const bl = backlog.find((b) => b.instance === instance);
    const delivered = points.reduce((n, p) => n + p.delivered, 0);
    return {
      instance,
      connection: states.find((s) => s.instance === instance) ?? null,
      pending: bl?.pending ?? 0,
      dead: bl?.dead ?? 0,
      receivedLastHour: points.reduce((n, p) => n + p.received, 0),
      deliveredLastHour: delivered,
      lagMsAvg: delivered > 0 ? lagSum / delivered : null,
      lagMsMax: delivered > 0 ? lagMax : null,
      points,
    };
  });
  return { now, counts: totals, instances, dead, runs };
}
