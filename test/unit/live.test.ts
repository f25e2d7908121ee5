import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/lib/logger.js';
import { type ChangeSet, type LiveChange, type LiveMode, parseChangeSet } from '../../src/live/changes.js';
import { ChangeCoalescer } from '../../src/live/coalescer.js';
import { LedgerWatch } from '../../src/live/ledger-watch.js';
import { type LiveChannel, LiveFeed } from '../../src/live/live-feed.js';

const logger = createLogger('silent');

/** A channel under the test's control: what was published, and "Redis" going away or coming back. */
class FakeChannel implements LiveChannel {
  listening = false;
  published = 0;
  received = 0;
  dropped = 0;
  sent: ChangeSet[] = [];
  #onChanges: (c: ChangeSet) => void = () => {};
  #onState: (l: boolean) => void = () => {};
  onChanges(fn: (c: ChangeSet) => void): void {
    this.#onChanges = fn;
  }
  onState(fn: (l: boolean) => void): void {
    this.#onState = fn;
  }
  publish(c: ChangeSet): void {
    this.published += 1;
    this.sent.push(c);
  }
  start(): void {}
  async stop(): Promise<void> {}
  set(listening: boolean): void {
    this.listening = listening;
    this.#onState(listening);
  }
  remote(c: ChangeSet): void {
    this.#onChanges(c);
  }
}

describe('live updates: coalescing', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('turns any number of notes within one window into one change set, and arms no timer while idle', () => {
    const flushed: ChangeSet[] = [];
    const c = new ChangeCoalescer(500, (changes) => flushed.push(changes));
    expect(vi.getTimerCount()).toBe(0);
    for (let i = 0; i < 10_000; i++) c.note('desk', 'delivered');
    c.note('desk', 'received', 120);
    c.note('sales', 'dead');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(499);
    expect(flushed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(flushed).toEqual([{ desk: { delivered: 10_000, received: 120 }, sales: { dead: 1 } }]);
    expect(vi.getTimerCount()).toBe(0);

    // The next window starts with the next note, and carries only what is new.
    c.note('sales', 'dead', 2);
    vi.advanceTimersByTime(500);
    expect(flushed[1]).toEqual({ sales: { dead: 2 } });
    expect(c.flushes).toBe(2);
  });

  it('flushes what is left on close, and ignores notes after it', () => {
    const flushed: ChangeSet[] = [];
    const c = new ChangeCoalescer(500, (changes) => flushed.push(changes));
    c.note('desk', 'reconcile');
    c.close();
    expect(flushed).toEqual([{ desk: { reconcile: 1 } }]);
    c.note('desk', 'delivered');
    vi.advanceTimersByTime(1000);
    expect(flushed).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('live updates: what crosses Redis', () => {
  it('accepts only known kinds, bounded names and non-negative integers', () => {
    expect(parseChangeSet({ desk: { delivered: 3, dead: 0 } })).toEqual({ desk: { delivered: 3 } });
    expect(parseChangeSet({})).toEqual({});
    for (const bad of [null, [], 'x', { desk: { stolen: 1 } }, { desk: { delivered: -1 } }, { desk: { delivered: 1.5 } }, { desk: { delivered: '1' } }, { desk: [] }, { ['x'.repeat(201)]: {} }, { '': {} }]) {
      expect(parseChangeSet(bad)).toBeNull();
    }
  });
});

describe('live updates: feed modes', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const listen = (feed: LiveFeed) => {
    const changes: LiveChange[] = [];
    const modes: LiveMode[] = [];
    const off = feed.subscribe({ change: (c) => changes.push(c), mode: (m) => modes.push(m) });
    return { changes, modes, off };
  };

  it('on a ledger of its own (SQLite) hands its own changes to its listeners, and never polls', async () => {
    const fingerprint = vi.fn(async () => 'x');
    const feed = new LiveFeed({ coalesceMs: 250, ledgerPollMs: 1000 }, { channel: null, fingerprint: null, logger });
    expect(feed.mode).toBe('local');
    const l = listen(feed);
    feed.activity.note('desk', 'delivered', 3);
    await vi.advanceTimersByTimeAsync(5000);
    expect(l.changes).toEqual([{ via: 'local', changes: { desk: { delivered: 3 } } }]);
    expect(fingerprint).not.toHaveBeenCalled();
    await feed.stop();
  });

  it('publishes its changes, passes on the others\', and polls the ledger only while Redis is away and someone listens', async () => {
    const channel = new FakeChannel();
    let ledgerState = 'a';
    const fingerprint = vi.fn(async () => ledgerState);
    const feed = new LiveFeed({ coalesceMs: 250, ledgerPollMs: 1000 }, { channel, fingerprint, logger });
    expect(feed.mode).toBe('ledger');
    channel.set(true);
    expect(feed.mode).toBe('cluster');

    const l = listen(feed);
    feed.activity.note('desk', 'received', 2);
    feed.activity.note('desk', 'delivered');
    await vi.advanceTimersByTimeAsync(250);
    expect(channel.sent).toEqual([{ desk: { received: 2, delivered: 1 } }]);
    channel.remote({ sales: { dead: 1 } });
    expect(l.changes).toEqual([
      { via: 'local', changes: { desk: { received: 2, delivered: 1 } } },
      { via: 'cluster', changes: { sales: { dead: 1 } } },
    ]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(fingerprint).not.toHaveBeenCalled();

    // Redis goes away: listeners are told, read the page once, and the ledger poll takes over.
    channel.set(false);
    expect(l.modes).toEqual(['ledger']);
    expect(l.changes.at(-1)).toEqual({ via: 'ledger', changes: {} });
    await vi.advanceTimersByTimeAsync(0);
    expect(fingerprint).toHaveBeenCalledTimes(1); // the baseline
    const before = l.changes.length;
    await vi.advanceTimersByTimeAsync(2000);
    expect(l.changes.length).toBe(before); // nothing changed in the ledger
    ledgerState = 'b';
    await vi.advanceTimersByTimeAsync(1000);
    expect(l.changes.slice(before)).toEqual([{ via: 'ledger', changes: {} }]);

    // Nobody listening: no reads.
    l.off();
    const reads = fingerprint.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(fingerprint.mock.calls.length).toBe(reads);

    // Redis back: the poll stays off even with a listener.
    const l2 = listen(feed);
    channel.set(true);
    expect(l2.modes).toEqual(['cluster']);
    const reads2 = fingerprint.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(fingerprint.mock.calls.length).toBe(reads2);
    await feed.stop();
  });
});

describe('live updates: ledger watch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a restart while a read is in flight leaves one polling loop, not two', async () => {
    let reads = 0;
    const watch = new LedgerWatch(
      100,
      async () => {
        reads += 1;
        await new Promise((r) => setTimeout(r, 150));
        return 'same';
      },
      () => {},
      logger,
    );
    watch.start();
    await vi.advanceTimersByTimeAsync(50);
    watch.stop();
    watch.start();
    reads = 0;
    await vi.advanceTimersByTimeAsync(2500);
    watch.stop();
    // One loop reads every 150 + 100 ms: 10 reads in 2.5 s (two loops would make 20).
    expect(reads).toBeGreaterThanOrEqual(9);
    expect(reads).toBeLessThanOrEqual(11);
    await vi.advanceTimersByTimeAsync(1000);
    const after = reads;
    await vi.advanceTimersByTimeAsync(1000);
    expect(reads).toBe(after);
  });
});

describe('live updates: settings', () => {
  const base = { CHATWOOT_URL: 'https://chat.example.com', CHATWOOT_API_TOKEN: 't', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1', EVOSYNC_WEBHOOK_TOKEN: 'a-long-enough-secret-token' };

  it('defaults to a 500 ms window and a 5 s ledger poll, and refuses values out of bounds by name', () => {
    expect(loadConfig(base).live).toEqual({ coalesceMs: 500, ledgerPollMs: 5000 });
    expect(loadConfig({ ...base, EVOSYNC_DASHBOARD_LIVE_MS: '250', EVOSYNC_DASHBOARD_POLL_MS: '2000' }).live).toEqual({ coalesceMs: 250, ledgerPollMs: 2000 });
    try {
      loadConfig({ ...base, EVOSYNC_DASHBOARD_LIVE_MS: '10', EVOSYNC_DASHBOARD_POLL_MS: '100' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems.some((p) => p.startsWith('EVOSYNC_DASHBOARD_LIVE_MS:'))).toBe(true);
      expect(problems.some((p) => p.startsWith('EVOSYNC_DASHBOARD_POLL_MS:'))).toBe(true);
    }
  });
});
