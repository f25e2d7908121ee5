import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalRateLimiter, chatwootRules, type RateRule } from '../../src/redis/rate-limit.js';

const limits = { requestsPerMinute: 3000, searchPerMinute: 100, messagesPerConversationPerMinute: 200 };

describe('chatwootRules (Chatwoot rack_attack.rb and the 200-per-minute flood guard)', () => {
  it('counts every request against the per-IP budget of its Chatwoot server', () => {
    const r = chatwootRules('chat.example.com', 'GET', '/api/v1/accounts/1/conversations/9', limits);
    // 2% below Chatwoot's own limit: headroom for a view of the cluster's requests that lags by a few.
    expect(r.map((x) => [x.key, x.limit, x.shared])).toEqual([['cw:chat.example.com:ip', 2940, true]]);
    // Windows are a minute plus a margin for the time between acquiring and Chatwoot counting.
    expect(r[0]!.windowMs).toBeGreaterThan(60_000);
  });

  it('adds the per-account contact search limit to contacts/search only (not filter)', () => {
    expect(chatwootRules('h', 'GET', '/api/v1/accounts/7/contacts/search', limits).map((x) => x.key)).toEqual(['cw:h:ip', 'cw:h:search:7']);
    expect(chatwootRules('h', 'POST', '/api/v1/accounts/7/contacts/filter', limits).map((x) => x.key)).toEqual(['cw:h:ip']);
  });

  it('adds the per-conversation message limit to message creates, as a limit of the lane owner alone', () => {
    const r = chatwootRules('h', 'POST', '/api/v1/accounts/1/conversations/42/messages', limits);
    expect(r.map((x) => [x.key, x.limit, x.shared])).toEqual([['cw:h:ip', 2940, true], ['cw:h:conv:1:42', 200, false]]);
    expect(chatwootRules('h', 'GET', '/api/v1/accounts/1/conversations/42/messages', limits).map((x) => x.key)).toEqual(['cw:h:ip']);
  });

  it('has no rule for a limit set to 0', () => {
    expect(chatwootRules('h', 'GET', '/api/v1/accounts/1/contacts/search', { requestsPerMinute: 0, searchPerMinute: 0, messagesPerConversationPerMinute: 0 })).toEqual([]);
  });
});

describe('LocalRateLimiter', () => {
  it('lets `limit` through per window and says how long the next one must wait', () => {
    let now = 10_000;
    const l = new LocalRateLimiter(() => now);
    const rule: RateRule = { key: 'k', limit: 3, windowMs: 1000, shared: true };
    expect([l.tryAcquire([rule]), l.tryAcquire([rule])]).toEqual([0, 0]);
    now = 10_400;
    expect(l.tryAcquire([rule])).toBe(0);
    expect(l.tryAcquire([rule])).toBe(601); // the first one leaves the window at 11,000
    now = 11_001;
    expect(l.tryAcquire([rule])).toBe(0);
  });

  it('records nothing under any rule when one of them is full', () => {
    const now = 0;
    const l = new LocalRateLimiter(() => now);
    const ip: RateRule = { key: 'ip', limit: 10, windowMs: 1000, shared: true };
    const conv: RateRule = { key: 'conv', limit: 1, windowMs: 1000, shared: false };
    expect(l.tryAcquire([ip, conv])).toBe(0);
    expect(l.tryAcquire([ip, conv])).toBeGreaterThan(0);
    expect(l.count('ip', -1)).toBe(1);
  });

  it('divides shared limits (never per-conversation ones) among the processes of the cluster', () => {
    const l = new LocalRateLimiter(() => 0);
    l.share = () => 3;
    expect(l.limitOf({ key: 'a', limit: 3000, windowMs: 1, shared: true })).toBe(1000);
    expect(l.limitOf({ key: 'b', limit: 200, windowMs: 1, shared: false })).toBe(200);
  });

  it('never lets more than the limit into any epoch-aligned minute, however requests arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 400 }), fc.integer({ min: 0, max: 59_999 }), (gaps, start) => {
        let now = start;
        const l = new LocalRateLimiter(() => now);
        const rule: RateRule = { key: 'ip', limit: 30, windowMs: 60_000, shared: false };
        const sent: number[] = [];
        for (const gap of gaps) {
          now += gap;
          for (let w = l.tryAcquire([rule]); w > 0; w = l.tryAcquire([rule])) now += w;
          sent.push(now);
        }
        const perMinute = new Map<number, number>();
        for (const t of sent) perMinute.set(Math.floor(t / 60_000), (perMinute.get(Math.floor(t / 60_000)) ?? 0) + 1);
        return [...perMinute.values()].every((n) => n <= 30);
      }),
      { numRuns: 200 },
    );
  });
});
