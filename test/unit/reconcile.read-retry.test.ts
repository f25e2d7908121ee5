import { describe, expect, it } from 'vitest';
import type { FailureKind } from '../../src/chatwoot/classify.js';
import type { Result } from '../../src/chatwoot/http.js';
import { readWithRetry } from '../../src/reconcile/read-retry.js';

const fail = (kind: FailureKind): Result<string> => ({ ok: false, failure: { kind, status: kind === 'server' ? 500 : null, message: kind } });
const scripted = (outcomes: Result<string>[]) => {
  let calls = 0;
  return { read: async () => outcomes[Math.min(calls++, outcomes.length - 1)]!, calls: () => calls };
};
const noSleep = async () => undefined;

describe('readWithRetry (reconcile reads under Chatwoot faults)', () => {
  it('repeats a read after transient failures (5xx, timeout, 429, refused) until it succeeds', async () => {
    const s = scripted([fail('server'), fail('ambiguous'), fail('rate_limited'), { ok: true, value: 'page', status: 200 }]);
    const r = await readWithRetry(s.read, { attempts: 4, sleep: noSleep });
    expect(r).toMatchObject({ ok: true, value: 'page' });
    expect(s.calls()).toBe(4);
  });

  it('gives up after the attempts, with the last failure', async () => {
    const s = scripted([fail('unreachable')]);
    const r = await readWithRetry(s.read, { attempts: 3, sleep: noSleep });
    expect(r).toMatchObject({ ok: false, failure: { kind: 'unreachable' } });
    expect(s.calls()).toBe(3);
  });

  it('does not repeat what repeating cannot fix (404, 401, other 4xx)', async () => {
    for (const kind of ['not_found', 'unauthorized', 'rejected'] as const) {
      const s = scripted([fail(kind), { ok: true, value: 'never', status: 200 }]);
      expect(await readWithRetry(s.read, { sleep: noSleep })).toMatchObject({ ok: false, failure: { kind } });
      expect(s.calls()).toBe(1);
    }
  });

  it('pauses longer after each failure', async () => {
    const pauses: number[] = [];
    const s = scripted([fail('server'), fail('server'), fail('server'), { ok: true, value: 'x', status: 200 }]);
    await readWithRetry(s.read, { attempts: 4, baseMs: 100, sleep: async (ms) => void pauses.push(ms) });
    expect(pauses).toEqual([100, 200, 400]);
  });
});
