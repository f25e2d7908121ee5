import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cachedFor } from '../../src/metrics/cached.js';
import { EvosyncMetrics, type ScrapeSources } from '../../src/metrics/registry.js';
import { has, value } from '../helpers/prom.js';

const counts = { pending: 4, delivered: 10, skipped: 1, dead: 2, refused: 3 };
const sources = (over: Partial<ScrapeSources> = {}): ScrapeSources => ({
  now: () => 100_000,
  counts: async () => counts,
  oldestPendingReceivedAt: async () => 40_000,
  lanesInFlight: () => 3,
  chatwootUp: () => true,
  rabbitmqUp: null,
  databaseUp: async () => true,
  ...over,
});
const text = async (m: EvosyncMetrics) => (await m.expose()).body;

describe('EvosyncMetrics', () => {
  it('keeps each service on its own registry, never the global one', async () => {
    const a = new EvosyncMetrics({ processMetrics: false });
    const b = new EvosyncMetrics({ processMetrics: false });
    a.ingested('webhook', 'messages.upsert', 3, 1);
    expect(value(await text(a), 'evosync_ingested_total', { source: 'webhook', event: 'messages.upsert' })).toBe(3);
    expect(value(await text(a), 'evosync_ingest_duplicates_total', { source: 'webhook' })).toBe(1);
    expect(value(await text(b), 'evosync_ingested_total')).toBe(0);
    expect(await globalRegistry.metrics()).not.toContain('evosync_');
  });

  it('records delivery outcomes, attempts, latency and reconcile runs in base units', async () => {
    const m = new EvosyncMetrics({ processMetrics: false });
    m.outcome('to_chatwoot', 'delivered', 2500);
    m.outcome('to_chatwoot', 'dead', null);
    m.attempt('to_chatwoot', 40);
    m.lookup('found');
    m.reconcileRun('schedule', 'ok', 3);
    m.reconcileRun('reconnect', 'error', 0);
    const t = await text(m);
    expect(value(t, 'evosync_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(value(t, 'evosync_deliveries_total', { outcome: 'dead' })).toBe(1);
    expect(value(t, 'evosync_deliveries_total', { outcome: 'retry' })).toBe(0);
    expect(value(t, 'evosync_delivery_latency_seconds_count')).toBe(1); // a dead message has no latency
    expect(value(t, 'evosync_delivery_latency_seconds_sum')).toBe(2.5);
    expect(value(t, 'evosync_delivery_latency_seconds_bucket', { le: '1' })).toBe(0);
    expect(value(t, 'evosync_delivery_latency_seconds_bucket', { le: '5' })).toBe(1);
    expect(value(t, 'evosync_delivery_duration_seconds_sum')).toBeCloseTo(0.04);
    expect(value(t, 'evosync_delivery_lookups_total', { result: 'found' })).toBe(1);
    expect(has(t, 'evosync_delivery_lookups_total', { result: 'not_found' })).toBe(true);
    expect(value(t, 'evosync_reconcile_runs_total', { trigger: 'schedule', result: 'ok' })).toBe(1);
    expect(value(t, 'evosync_reconcile_runs_total', { trigger: 'reconnect', result: 'error' })).toBe(1);
    expect(value(t, 'evosync_reconcile_repaired_total')).toBe(3);
  });

  it('computes the gauges at scrape time from what the service reports', async () => {
    const m = new EvosyncMetrics({ processMetrics: false });
    // Before the service is wired, a scrape still answers (without the live gauges).
    expect(has(await text(m), 'evosync_messages')).toBe(false);
    let cw = true;
    m.watch(sources({ chatwootUp: () => cw, rabbitmqUp: () => false }));
    let t = await text(m);
    expect(value(t, 'evosync_messages', { state: 'pending' })).toBe(4);
    expect(value(t, 'evosync_messages', { state: 'dead' })).toBe(2);
    expect(value(t, 'evosync_messages')).toBe(17);
    expect(value(t, 'evosync_oldest_pending_age_seconds')).toBe(60);
    expect(value(t, 'evosync_lanes_in_flight')).toBe(3);
    expect(value(t, 'evosync_upstream_up', { upstream: 'chatwoot' })).toBe(1);
    expect(value(t, 'evosync_upstream_up', { upstream: 'rabbitmq' })).toBe(0);
    cw = false;
    t = await text(m);
    expect(value(t, 'evosync_upstream_up', { upstream: 'chatwoot' })).toBe(0);
    m.instanceState('support', true);
    m.instanceState('sales', false);
    t = await text(m);
    expect(value(t, 'evosync_instance_connected', { instance: 'support' })).toBe(1);
    expect(value(t, 'evosync_instance_connected', { instance: 'sales' })).toBe(0);
  });

  it('drops ledger-backed gauges instead of failing the scrape when the ledger does not answer', async () => {
    const m = new EvosyncMetrics({ processMetrics: false });
    let down = false;
    m.watch(sources({
      counts: async () => (down ? Promise.reject(new Error('db down')) : counts),
      oldestPendingReceivedAt: async () => (down ? Promise.reject(new Error('db down')) : null),
      databaseUp: async () => !down,
    }));
    let t = await text(m);
    expect(value(t, 'evosync_oldest_pending_age_seconds')).toBe(0); // nothing pending
    expect(has(t, 'evosync_messages')).toBe(true);
    down = true;
    t = await text(m);
    expect(has(t, 'evosync_messages')).toBe(false);
    expect(value(t, 'evosync_oldest_pending_age_seconds')).toBeNaN();
    expect(value(t, 'evosync_upstream_up', { upstream: 'database' })).toBe(0);
    expect(has(t, 'evosync_upstream_up', { upstream: 'rabbitmq' })).toBe(false);
  });

  it('adds process metrics to its own registry', async () => {
    const t = await text(new EvosyncMetrics());
    expect(has(t, 'process_resident_memory_bytes') || has(t, 'nodejs_heap_size_used_bytes')).toBe(true);
  });
});

describe('cachedFor', () => {
  it('asks once per interval, shares the answer, and keeps a failure just as long', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const get = cachedFor(1000, () => now, async () => {
      calls += 1;
      if (fail) throw new Error('x');
      return calls;
    });
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    now = 999;
    expect(await get()).toBe(1);
    now = 1000;
    fail = true;
    await expect(get()).rejects.toThrow('x');
    fail = false;
    await expect(get()).rejects.toThrow('x');
    now = 2000;
    expect(await get()).toBe(3);
    expect(calls).toBe(3);
  });
});
