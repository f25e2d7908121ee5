import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { MessageGuard } from '../../src/redis/message-guard.js';
import { ClusterRateLimiter, type RateRule } from '../../src/redis/rate-limit.js';
import { RedisLookups } from '../../src/redis/shared-lookups.js';
import { SharedRedis } from '../../src/redis/shared-redis.js';
import { REDIS_URL, redisAvailable } from '../helpers/services.js';

const logger = createLogger('silent');
const until = async (cond: () => boolean, ms: number) => {
  for (const t = Date.now(); !cond() && Date.now() - t < ms; ) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

/** Two "processes" are two clients with their own limiter, on one Redis, under one key prefix. */
async function connected(prefix: string): Promise<SharedRedis> {
  const r = new SharedRedis({ url: REDIS_URL, prefix, commandTimeoutMs: 500 }, logger);
  r.start();
  if (!(await until(() => r.up, 5000))) throw new Error('redis did not connect');
  return r;
}

describe.skipIf(!(await redisAvailable()))('Redis: cluster rate limit, message guard, shared look-ups', () => {
  const prefix = `evosync-it-${randomBytes(4).toString('hex')}:`;
  let a: SharedRedis;
  let b: SharedRedis;
  beforeAll(async () => {
    a = await connected(prefix);
    b = await connected(prefix);
  });
  afterAll(async () => {
    const keys = await a.client.keys(`${prefix}*`);
    if (keys.length > 0) await a.client.del(...keys);
    await a.close();
    await b.close();
  });

  it('keeps two processes together under one sliding-window limit', async () => {
    const la = new ClusterRateLimiter(a, 'A');
    const lb = new ClusterRateLimiter(b, 'B');
    const rule: RateRule = { key: 'shared-window', limit: 20, windowMs: 1000, shared: true };
    const sent: number[] = [];
    const started = Date.now();
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? la : lb).acquire([rule]).then(() => sent.push(Date.now()))));
    // 60 through a 20-per-second window: at least two full windows of waiting.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    sent.sort((x, y) => x - y);
    for (let i = 20; i < sent.length; i++) expect(sent[i]! - sent[i - 20]!).toBeGreaterThanOrEqual(990);
    expect(la.counts.redis + lb.counts.redis).toBe(60);
    expect(la.counts.local + lb.counts.local).toBe(0);
  });

  it('counts the live processes of the cluster from their heartbeats', async () => {
    const la = new ClusterRateLimiter(a, 'hb-A');
    const lb = new ClusterRateLimiter(b, 'hb-B');
    la.start();
    lb.start();
    try {
      expect(await until(() => la.processes >= 2 && lb.processes >= 2, 6500)).toBe(true);
    } finally {
      await la.leave();
      await lb.leave();
    }
  });

  it('marks a message as being delivered for one owner at a time, and only its owner clears it', async () => {
    const ga = new MessageGuard(a, 'A', 5000);
    const gb = new MessageGuard(b, 'B', 5000);
    expect(await ga.claim(41)).toBe(true);
    expect(await gb.claim(41)).toBe(false);
    await gb.release(41); // not B's: stays
    expect(await gb.claim(41)).toBe(false);
    await ga.release(41);
    expect(await gb.claim(41)).toBe(true);
    await gb.release(41);
  });

  it('shares one process\'s chat links and LID pairs with the others', async () => {
    const ra = new RedisLookups(a);
    const rb = new RedisLookups(b);
    const link = { instance: 'i', chat: 'c@s.whatsapp.net', accountId: 1, inboxId: 2, contactId: 3, contactSourceId: 'c@s.whatsapp.net', conversationId: 4, conversationCheckedAt: 5 };
    expect(await rb.getLink('i', 'c@s.whatsapp.net', 1, 2)).toBeUndefined();
    await ra.saveLink(link);
    expect(await rb.getLink('i', 'c@s.whatsapp.net', 1, 2)).toEqual(link);
    await rb.forgetLink('i', 'c@s.whatsapp.net', 1, 2);
    expect(await ra.getLink('i', 'c@s.whatsapp.net', 1, 2)).toBeUndefined();
    await ra.savePair('i', { lid: '1@lid', phoneJid: '55@s.whatsapp.net' });
    expect(await rb.getPair('i', '55@s.whatsapp.net')).toEqual({ lid: '1@lid', phoneJid: '55@s.whatsapp.net' });
    expect(await rb.getPair('i', '1@lid')).toEqual({ lid: '1@lid', phoneJid: '55@s.whatsapp.net' });
  });
});

describe('Redis unreachable', () => {
  it('falls back at once: no cache, every message unguarded, the limit kept in-process', async () => {
    // Port 1: nothing listens, the connection is refused at once and retried in the background.
    const r = new SharedRedis({ url: 'redis://127.0.0.1:1', prefix: 'x:', commandTimeoutMs: 100 }, logger);
    r.start();
    try {
      expect(r.up).toBe(false);
      expect(r.problem()).toMatch(/^redis: /);
      expect(await new RedisLookups(r).getLink('i', 'c', 1, 2)).toBeUndefined();
      expect(await new MessageGuard(r, 'A', 1000).claim(1)).toBe(true);
      const limiter = new ClusterRateLimiter(r, 'A');
      const rule: RateRule = { key: 'k', limit: 3, windowMs: 400, shared: true };
      const started = Date.now();
      for (let i = 0; i < 6; i++) await limiter.acquire([rule]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect(limiter.counts).toMatchObject({ redis: 0, local: 6 });
    } finally {
      await r.close();
    }
  });
});
