import { describe, expect, it } from 'vitest';
import { classifyNetworkError, classifyStatus, mayHaveBeenApplied } from '../../src/chatwoot/classify.js';
import { UpstreamGate } from '../../src/lanes/gate.js';
import { failureOutcome } from '../../src/lanes/outcome.js';
import { backoffMs, nextMinuteBoundaryMs } from '../../src/lib/backoff.js';
import type { LedgerMessage } from '../../src/ledger/ledger.js';

describe('classify', () => {
  it('maps Chatwoot statuses', () => {
    expect(classifyStatus(200, {})).toBeNull();
    expect(classifyStatus(429, 'Retry later\n')?.kind).toBe('rate_limited');
    expect(classifyStatus(401, { error: 'Invalid Access Token' })).toMatchObject({ kind: 'unauthorized', message: 'HTTP 401: Invalid Access Token' });
    expect(classifyStatus(404, { error: 'Resource could not be found' })?.kind).toBe('not_found');
    expect(classifyStatus(422, { error: 'Validation failed: Too many messages' })?.kind).toBe('flood');
    expect(classifyStatus(422, { message: 'Phone number has already been taken', attributes: ['phone_number'] })).toMatchObject({ kind: 'rejected', message: 'HTTP 422: Phone number has already been taken' });
    expect(classifyStatus(502, '')?.kind).toBe('server');
  });

  it('separates "never sent" from "may have been applied"', () => {
    const refused = classifyNetworkError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const reset = classifyNetworkError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    const timeout = classifyNetworkError(Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }));
    expect(refused.kind).toBe('unreachable');
    expect(mayHaveBeenApplied(refused)).toBe(false);
    expect(reset.kind).toBe('ambiguous');
    expect(mayHaveBeenApplied(timeout)).toBe(true);
    expect(mayHaveBeenApplied({ kind: 'server', status: 504, message: '' })).toBe(true);
  });
});

describe('backoff', () => {
  it('grows, is capped and jittered within [exp/2, exp]', () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(1, 1000, 60_000, () => 0.999)).toBe(1000);
    expect(backoffMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(40, 1000, 60_000, () => 1)).toBe(60_000);
  });
  it('waits for the next epoch minute after a 429', () => {
    expect(nextMinuteBoundaryMs(120_500, 0)).toBe(180_000);
    expect(nextMinuteBoundaryMs(179_999, 1000, () => 1)).toBe(181_000);
  });
});

const row = (attempts: number): LedgerMessage => ({ attempts } as LedgerMessage);
const policy = { maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 60_000 };

describe('gate and outcomes', () => {
  it('pauses without counting attempts when Chatwoot is unreachable, unauthorized or rate-limited', () => {
    const gate = new UpstreamGate('cw', { breakerThreshold: 3, baseMs: 100 });
    const changes: boolean[] = [];
    gate.onChange = (p) => changes.push(p);
    expect(gate.recordFailure({ kind: 'unreachable', status: null, message: 'ECONNREFUSED' }, 1000)).toBe('paused');
    expect(gate.isOpen(1000)).toBe(false);
    const out = failureOutcome(row(4), { kind: 'unreachable', status: null, message: 'x' }, false, 'paused', gate.pausedUntil(), 1000, policy);
    expect(out).toMatchObject({ state: 'retry', countAttempt: false });
    expect(gate.recordFailure({ kind: 'rate_limited', status: 429, message: '429' }, 61_000)).toBe('paused');
    expect(gate.pausedUntil()).toBeGreaterThanOrEqual(120_000);
    gate.recordSuccess();
    expect(gate.isOpen(61_000)).toBe(true);
    expect(changes).toEqual([true, true, false]);
  });

  it('opens the breaker after consecutive server errors across chats', () => {
    const gate = new UpstreamGate('cw', { breakerThreshold: 3, baseMs: 100 });
    const f = { kind: 'server' as const, status: 500, message: '500' };
    expect(gate.recordFailure(f, 0)).toBe('counted');
    expect(gate.recordFailure(f, 0)).toBe('counted');
    expect(gate.recordFailure(f, 0)).toBe('paused');
    expect(gate.isOpen(0)).toBe(false);
    // Until a success, further failures are the upstream's and cost no attempts.
    expect(gate.recordFailure({ kind: 'ambiguous', status: null, message: 'reset' }, 5000)).toBe('paused');
    gate.recordSuccess();
    expect(gate.recordFailure(f, 99_000)).toBe('counted');
  });

  it('counts the message\'s own failures, then declares it dead; permanent refusals die at once', () => {
    const f = { kind: 'server' as const, status: 500, message: 'HTTP 500' };
    expect(failureOutcome(row(0), f, true, 'counted', 0, 0, policy)).toMatchObject({ state: 'retry', countAttempt: true, maybeSent: true });
    expect(failureOutcome(row(4), f, false, 'counted', 0, 0, policy)).toMatchObject({ state: 'dead' });
    expect(failureOutcome(row(0), { kind: 'rejected', status: 422, message: 'bad' }, false, 'counted', 0, 0, policy)).toMatchObject({ state: 'dead' });
    expect(failureOutcome(row(3), { kind: 'flood', status: 422, message: 'Too many' }, false, 'counted', 0, 30_000, policy)).toMatchObject({ state: 'retry', countAttempt: false, nextAttemptAt: expect.any(Number) });
  });
});
