import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/lib/group-commit.js';
import { presentedToken, safeEqual, tokenMatcher } from '../../src/ingest/token.js';
import { redactSecrets } from '../../src/ingest/intake.js';

describe('GroupCommitter', () => {
  it('writes concurrent submissions together and gives each caller its own result', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, string>(async (items) => {
      batches.push(items);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((i) => `r${i}`);
    }, { maxBatch: 50 });
    const results = await Promise.all(Array.from({ length: 120 }, (_, i) => gc.submit(i)));
    expect(results[7]).toBe('r7');
    expect(batches.flat()).toHaveLength(120);
    expect(batches.length).toBeLessThan(10);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(50);
  });

  it('writes up to `parallel` batches at once, never more', async () => {
    let running = 0;
    let peak = 0;
    const gc = new GroupCommitter<number, number>(async (items) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running -= 1;
      return items;
    }, { maxBatch: 4, parallel: 3 });
    const out = await Promise.all(Array.from({ length: 40 }, (_, i) => gc.submit(i)));
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(3);
    await gc.close();
  });

  it('keeps a caller\'s items together in one batch, and splits only what exceeds a batch', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => i * 10);
    }, { maxBatch: 10 });
    const [a, b, c] = await Promise.all([gc.submitMany([1, 2, 3, 4, 5, 6]), gc.submitMany([7, 8, 9, 10, 11, 12]), gc.submitMany(Array.from({ length: 25 }, (_, i) => 100 + i))]);
    expect(a).toEqual([10, 20, 30, 40, 50, 60]);
    expect(b).toEqual([70, 80, 90, 100, 110, 120]);
    expect(c).toEqual(Array.from({ length: 25 }, (_, i) => (100 + i) * 10));
    // 6 + 6 would exceed 10: the second waits for the next batch rather than being split.
    expect(batches.find((x) => x.includes(1))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(batches.find((x) => x.includes(7))?.slice(0, 6)).toEqual([7, 8, 9, 10, 11, 12]);
    expect(Math.max(...batches.map((x) => x.length))).toBeLessThanOrEqual(10);
    expect(batches.flat().sort((x, y) => x - y)).toEqual([...a, ...b, ...c].map((x) => x / 10).sort((x, y) => x - y));
  });

  it('rejects only the callers of a failed batch, and refuses work after close', async () => {
    let fail = true;
    const gc = new GroupCommitter<number, number>(async (items) => {
      if (fail) throw new Error('disk full');
      return items;
    }, { maxBatch: 10 });
    await expect(gc.submit(1)).rejects.toThrow('disk full');
    fail = false;
    await expect(gc.submit(2)).resolves.toBe(2);
    await gc.close();
    await expect(gc.submit(3)).rejects.toThrow(/closed/);
  });
});

describe('webhook token', () => {
  it('accepts bearer, header, query and path forms, compared in constant time', () => {
    expect(presentedToken({ authorization: 'Bearer abc' }, {})).toBe('abc');
    expect(presentedToken({ 'x-evosync-token': 'def' }, {})).toBe('def');
    expect(presentedToken({}, { token: 'ghi' })).toBe('ghi');
    expect(presentedToken({ authorization: 'Bearer abc' }, {}, 'path')).toBe('path');
    expect(presentedToken({}, {})).toBeNull();
    expect(safeEqual('same', 'same')).toBe(true);
    expect(safeEqual('same', 'same-but-longer')).toBe(false);
    const matches = tokenMatcher('webhook-secret');
    expect(matches('webhook-secret')).toBe(true);
    expect(matches('webhook-secret ')).toBe(false);
    expect(matches('')).toBe(false);
  });
});

describe('redactSecrets', () => {
  it('blanks credentials in a kept body, even in broken JSON', () => {
    const out = redactSecrets('{"event":"x","apikey":"B6D7-SECRET-\\"quoted","data":{"token":"abc"},"ok":"apikey"');
    expect(out).not.toContain('SECRET');
    expect(out).not.toContain('"abc"');
    expect(out).toContain('"ok":"apikey"');
  });
});
