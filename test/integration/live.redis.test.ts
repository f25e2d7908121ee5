import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import type { ChangeSet, LiveChange, LiveMode } from '../../src/live/changes.js';
import { ClusterChannel } from '../../src/live/cluster-channel.js';
import { LiveFeed } from '../../src/live/live-feed.js';
import { SharedRedis } from '../../src/redis/shared-redis.js';
import { until } from '../helpers/lifecycle.js';
import { freePort } from '../helpers/evosync-process.js';
import { REDIS_URL, redisAvailable } from '../helpers/services.js';

const logger = createLogger('silent');
const run = promisify(execFile);
const redisServer = await run('redis-server', ['--version']).then(() => true, () => false);

/** Two "processes" are two SharedRedis clients, each with its channel, under one key prefix. */
describe.skipIf(!(await redisAvailable()))('live updates through Redis pub/sub', () => {
  const prefix = `evosync-live-${randomBytes(4).toString('hex')}:`;
  const opened: { stop(): Promise<void> }[] = [];
  let raw: Redis;
  const seen: string[] = [];

  const member = async (origin: string) => {
    const redis = new SharedRedis({ url: REDIS_URL, prefix, commandTimeoutMs: 500 }, logger);
    redis.start();
    const channel = new ClusterChannel(redis, origin, logger);
    const feed = new LiveFeed({ coalesceMs: 200, ledgerPollMs: 60_000 }, { channel, fingerprint: async () => 'unused', logger });
    feed.start();
    opened.push({ stop: () => feed.stop() }, { stop: () => redis.close() });
    await until(`${origin} to listen`, () => channel.listening && redis.up, 5000);
    const changes: LiveChange[] = [];
    feed.subscribe({ change: (c) => changes.push(c), mode: () => {} });
    return { channel, feed, changes };
  };

  beforeAll(async () => {
    // A third client sees every message on the channel, whoever sends it.
    raw = new Redis(REDIS_URL);
    await raw.subscribe(`${prefix}live`);
    raw.on('message', (_ch, message: string) => seen.push(message));
  });
  afterAll(async () => {
    for (const o of opened.reverse()) await o.stop().catch(() => {});
    raw.disconnect();
  });

  it('sends thousands of notes within one window as one publish, which the other process receives', async () => {
    const a = await member('A');
    const b = await member('B');
    expect(a.feed.mode).toBe('cluster');
    seen.length = 0;
    for (let i = 0; i < 5000; i++) a.feed.activity.note('desk', 'delivered');
    a.feed.activity.note('sales', 'received', 7);
    const got = await until('B to hear of it', () => b.changes.find((c) => c.via === 'cluster'), 3000);
    expect(got.changes).toEqual({ desk: { delivered: 5000 }, sales: { received: 7 } });
    await new Promise((r) => setTimeout(r, 400));
    expect(seen).toHaveLength(1);
    expect(a.channel.published).toBe(1);
    // A saw its own change at once, locally, and not a second time through Redis.
    expect(a.changes).toEqual([{ via: 'local', changes: { desk: { delivered: 5000 }, sales: { received: 7 } } }]);
    expect(b.changes.filter((c) => c.via === 'cluster')).toHaveLength(1);
  });

  it('drops what is not a change set of ours (another program on the channel, a forged kind)', async () => {
    const b = await member('B2');
    const before = b.changes.length;
    const publisher = new Redis(REDIS_URL);
    for (const junk of ['not json', JSON.stringify({ v: 1, o: 'X', c: { desk: { rm_rf: 1 } } }), JSON.stringify({ v: 2, o: 'X', c: {} }), JSON.stringify({ v: 1, o: 'X', c: { desk: { delivered: -5 } } })]) {
      await publisher.publish(`${prefix}live`, junk);
    }
    const good: ChangeSet = { desk: { dead: 1 } };
    await publisher.publish(`${prefix}live`, JSON.stringify({ v: 1, o: 'X', c: good }));
    publisher.disconnect();
    const got = await until('the valid one', () => b.changes.slice(before).find((c) => c.via === 'cluster'), 3000);
    expect(got.changes).toEqual(good);
    expect(b.changes.slice(before).filter((c) => c.via === 'cluster')).toHaveLength(1);
    expect(b.channel.dropped).toBeGreaterThanOrEqual(4);
  });

  it('without a reachable Redis, never listens, publishes nothing, and keeps the ledger mode', async () => {
    const redis = new SharedRedis({ url: `redis://127.0.0.1:${await freePort()}`, prefix, commandTimeoutMs: 100 }, logger);
    redis.start();
    const channel = new ClusterChannel(redis, 'lonely', logger);
    const feed = new LiveFeed({ coalesceMs: 100, ledgerPollMs: 60_000 }, { channel, fingerprint: async () => 'x', logger });
    feed.start();
    try {
      const changes: LiveChange[] = [];
      feed.subscribe({ change: (c) => changes.push(c), mode: () => {} });
      feed.activity.note('desk', 'delivered');
      await until('the local change', () => changes.some((c) => c.via === 'local'), 2000);
      expect(changes.filter((c) => c.via === 'local')).toEqual([{ via: 'local', changes: { desk: { delivered: 1 } } }]);
      // Besides it, only the ledger watch's first reading (the listener's page may be older than it).
      expect(changes.filter((c) => c.via !== 'local')).toEqual([{ via: 'ledger', changes: {} }]);
      expect(feed.mode).toBe('ledger');
      expect(channel.listening).toBe(false);
      expect(channel.published).toBe(0);
    } finally {
      await feed.stop();
      await redis.close();
    }
  });

  // A Redis of the test's own, so stopping it does not disturb the other files on 6379.
  it.skipIf(!redisServer)('falls back to the ledger when Redis goes away, and listens again (reading the page once) when it is back', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'evosync-live-redis-'));
    const startRedis = async () => {
      await run('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir]);
      await until('redis-server to answer', () => run('redis-cli', ['-p', String(port), 'ping']).then((r) => r.stdout.trim() === 'PONG', () => false), 5000);
    };
    const stopRedis = () => run('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => undefined);
    await startRedis();
    const redis = new SharedRedis({ url: `redis://127.0.0.1:${port}`, prefix, commandTimeoutMs: 200 }, logger);
    redis.start();
    const channel = new ClusterChannel(redis, 'flaky', logger);
    let reads = 0;
    const feed = new LiveFeed({ coalesceMs: 100, ledgerPollMs: 1000 }, { channel, fingerprint: async () => String(++reads), logger });
    feed.start();
    try {
      const modes: LiveMode[] = [];
      const changes: LiveChange[] = [];
      await until('listening', () => feed.mode === 'cluster', 5000);
      feed.subscribe({ change: (c) => changes.push(c), mode: (m) => modes.push(m) });
      await stopRedis();
      await until('the ledger mode', () => feed.mode === 'ledger', 5000);
      // The page is read once at the switch, then the poll runs (every reading differs here, so
      // each one after the baseline is a change).
      await until('a ledger change after the switch', () => changes.filter((c) => c.via === 'ledger').length >= 2, 4000);
      await startRedis();
      await until('listening again', () => feed.mode === 'cluster', 10_000);
      expect(modes).toEqual(['ledger', 'cluster']);
      expect(changes.at(-1)).toEqual({ via: 'cluster', changes: {} });
      // Back on Redis, the poll stops.
      const after = reads;
      await new Promise((r) => setTimeout(r, 1500));
      expect(reads).toBe(after);
    } finally {
      await feed.stop();
      await redis.close();
      await stopRedis();
    }
  });
});
