import { describe, expect, it } from 'vitest';
import { KeyedGroupCommitter } from '../../src/lib/keyed-commit.js';

describe('keyed group commit', () => {
  it("commits one key's items in submission order while other keys' batches run beside them", async () => {
    const landed: string[] = [];
    let running = 0;
    let mostAtOnce = 0;
    // The first batch is slow: a later item of the same key must still land after it.
    const write = async (items: string[]) => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise((r) => setTimeout(r, items.some((i) => i.endsWith(':0')) ? 60 : 5));
      landed.push(...items);
      running -= 1;
      return items.map((i) => `ok ${i}`);
    };
    const c = new KeyedGroupCommitter(write, { shards: 4, maxBatch: 64 }, (item) => item.split(':')[0]!);
    const keys = ['chat-a', 'chat-b', 'chat-c', 'chat-d', 'chat-e', 'chat-f'];
    const first = keys.map((k) => c.submit(`${k}:0`));
    // Submitted while the first batches are being written.
    await new Promise((r) => setTimeout(r, 10));
    const second = keys.map((k) => c.submit(`${k}:1`));
    expect(await Promise.all([...first, ...second])).toEqual([...keys.map((k) => `ok ${k}:0`), ...keys.map((k) => `ok ${k}:1`)]);
    for (const k of keys) expect(landed.indexOf(`${k}:0`)).toBeLessThan(landed.indexOf(`${k}:1`));
    expect(mostAtOnce).toBeGreaterThan(1);
    expect(c.items).toBe(12);
    await c.close();
    await expect(c.submit('chat-a:2')).rejects.toThrow(/closed/);
  });
});
