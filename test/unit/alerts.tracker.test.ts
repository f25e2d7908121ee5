import { describe, expect, it } from 'vitest';
import { alertPayload, alertText, formatDuration } from '../../src/alerts/format.js';
import type { Observation } from '../../src/alerts/kinds.js';
import { AlertTracker } from '../../src/alerts/tracker.js';

const obs = (active: boolean, over: Partial<Observation> = {}): Observation => ({
  key: 'delivery_paused:chatwoot x', kind: 'delivery_paused', active, forMs: 0, summary: active ? 'paused' : 'resumed', details: {}, ...over,
});

describe('AlertTracker', () => {
  it('fires once per incident and recovers once, however many evaluations it spans', () => {
    const t = new AlertTracker();
    const events = [0, 1, 2, 3].flatMap((i) => t.observe([obs(true)], i * 1000));
    expect(events.map((e) => e.status)).toEqual(['firing']);
    const rec = [4, 5, 6].flatMap((i) => t.observe([obs(false)], i * 1000));
    expect(rec).toMatchObject([{ status: 'recovered', startedAt: 0, at: 4000, summary: 'resumed' }]);
    expect(t.observe([obs(true)], 7000).map((e) => e.status)).toEqual(['firing']);
  });

  it('waits forMs before firing; a blip shorter than that is never reported', () => {
    const t = new AlertTracker();
    expect(t.observe([obs(true, { forMs: 5000 })], 0)).toEqual([]);
    expect(t.observe([obs(true, { forMs: 5000 })], 4000)).toEqual([]);
    expect(t.observe([obs(false, { forMs: 5000 })], 4500)).toEqual([]);
    expect(t.observe([obs(true, { forMs: 5000 })], 6000)).toEqual([]);
    expect(t.observe([obs(true, { forMs: 5000 })], 11_000)).toMatchObject([{ status: 'firing', startedAt: 6000, at: 11_000 }]);
  });

  it('a key no longer observed recovers, unless its source could not be read', () => {
    const t = new AlertTracker();
    t.observe([obs(true, { key: 'instance_disconnected:a', kind: 'instance_disconnected' })], 0);
    expect(t.observe([], 1000, new Set(['instance_disconnected']))).toEqual([]);
    expect(t.firing()).toHaveLength(1);
    expect(t.observe([], 2000)).toMatchObject([{ key: 'instance_disconnected:a', status: 'recovered' }]);
    expect(t.firing()).toEqual([]);
  });

  it('keeps keys apart', () => {
    const t = new AlertTracker();
    const a = obs(true, { key: 'k:a' });
    const b = obs(true, { key: 'k:b' });
    expect(t.observe([a, b], 0)).toHaveLength(2);
    expect(t.observe([a, { ...b, active: false }], 1000)).toMatchObject([{ key: 'k:b', status: 'recovered' }]);
  });
});

describe('alert text', () => {
  it('reads as a sentence with the duration of a recovered incident', () => {
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(192_000)).toBe('3m 12s');
    expect(formatDuration(2 * 3_600_000 + 300_000)).toBe('2h 5m');
    expect(formatDuration(27 * 3_600_000)).toBe('1d 3h');
    const e = { key: 'backlog', kind: 'backlog' as const, status: 'recovered' as const, summary: 'clear', details: { pending: 0 }, startedAt: 0, at: 192_000 };
    expect(alertText(e)).toBe('[evosync RECOVERED] Delivery backlog (lasted 3m 12s): clear');
    expect(alertPayload(e, 'h1')).toMatchObject({ text: alertText(e), service: 'evosync', host: 'h1', alert: 'backlog', status: 'recovered', durationMs: 192_000, startedAt: '1970-01-01T00:00:00.000Z' });
  });
});
