import { afterEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim, type ChatwootSimOptions } from '../../sim/chatwoot/index.js';
import { simClient, type SimClient } from '../../sim/chatwoot/test-client.js';

let sim: ChatwootSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(opts: ChatwootSimOptions = {}): Promise<{ sim: ChatwootSim; api: SimClient; conv: number }> {
  sim = await createChatwootSim({ seed: 21, ...opts });
  const api = simClient(sim);
  const contact = await api.post('contacts', { name: 'F', inbox_id: sim.inboxId, source_id: 'f1' });
  const conv = (await api.post('conversations', { inbox_id: sim.inboxId, contact_id: contact.json.payload.contact.id, source_id: 'f1' })).json.id;
  return { sim, api, conv };
}

describe('rate limiting', () => {
  it('answers 429 text/plain "Retry later\\n" without Retry-After, in epoch-aligned minute windows', async () => {
    let now = Date.UTC(2026, 3, 16, 12, 0, 10);
    const { sim, api } = await start({ rateLimits: true, requestsPerMinute: 5, clock: () => now });
    // start() already used 2 requests of this window
    for (let i = 0; i < 3; i++) expect((await api.get('inboxes')).status).toBe(200);
    const limited = await api.get('inboxes');
    expect(limited.status).toBe(429);
    expect(limited.text).toBe('Retry later\n');
    expect(limited.headers.get('content-type')).toBe('text/plain');
    expect(limited.headers.get('retry-after')).toBeNull();
    expect(limited.headers.get('x-ratelimit-limit')).toBeNull();
    // throttling happens before auth: even a bad token gets 429
    expect((await api.get('inboxes', { token: 'bad' })).status).toBe(429);
    now = Date.UTC(2026, 3, 16, 12, 0, 59, 999);
    expect((await api.get('inboxes')).status).toBe(429);
    now = Date.UTC(2026, 3, 16, 12, 1, 0);
    expect((await api.get('inboxes')).status).toBe(200);
    expect(sim.stats().rateLimited).toBe(3);
    // the control plane is never throttled
    expect((await api.get('/_sim/stats')).status).toBe(200);
  });

  it('limits contacts/search to 100 per minute per account', async () => {
    const now = Date.UTC(2026, 3, 16, 12, 0, 0);
    const { api } = await start({ rateLimits: true, clock: () => now });
    for (let i = 0; i < 100; i++) expect((await api.get(`contacts/search?q=${i}`)).status).toBe(200);
    const limited = await api.get('contacts/search?q=x');
    expect(limited.status).toBe(429);
    expect(limited.text).toBe('Retry later\n');
    expect((await api.get('contacts')).status).toBe(200);
  });

  it('is off by default', async () => {
    const { api } = await start({ requestsPerMinute: 1 });
    for (let i = 0; i < 5; i++) expect((await api.get('inboxes')).status).toBe(200);
  });

  it('is switched on and off at run time like any other fault', async () => {
    const now = Date.UTC(2026, 3, 16, 12, 0, 0);
    const { sim, api } = await start({ requestsPerMinute: 3, clock: () => now });
    expect(sim.faults().rateLimits).toBe(false);
    sim.setFaults({ rateLimits: true });
    for (let i = 0; i < 3; i++) expect((await api.get('inboxes')).status).toBe(200);
    expect((await api.get('inboxes')).status).toBe(429);
    await api.post('/_sim/faults', { rateLimits: false });
    expect((await api.get('inboxes')).status).toBe(200);
  });
});

describe('fault injection', () => {
  it('timeoutAfterCommit creates the row but the request never gets an answer', async () => {
    const { sim, api, conv } = await start();
    sim.setFaults({ timeoutAfterCommitRate: 1, hangMs: 150 });
    const started = Date.now();
    await expect(api.post(`conversations/${conv}/messages`, { content: 'lost answer', source_id: 'WAID:T' })).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(sim.snapshot().messages.filter((m) => m.source_id === 'WAID:T')).toHaveLength(1);
    // reads are not write requests: they still answer
    expect((await api.get(`conversations/${conv}/messages`)).status).toBe(200);
    expect(sim.stats().byStatus.timeout).toBe(1);
  });

  it('outage resets the connection and does nothing', async () => {
    const { sim, api, conv } = await start();
    sim.setFaults({ outage: true });
    const err = await api.post(`conversations/${conv}/messages`, { content: 'nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const cause = (err as { cause?: { code?: string } }).cause;
    expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(cause?.code);
    expect(sim.snapshot().messages).toHaveLength(0);
    expect((await api.get('/_sim/snapshot')).status).toBe(200);
    sim.setFaults({ outage: false });
    expect((await api.post(`conversations/${conv}/messages`, { content: 'back' })).status).toBe(200);
  });

  it('errorRate answers 5xx without side effects, on a reproducible schedule', async () => {
    const statuses: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const { sim: s, api, conv } = await start({ seed: 42 });
      s.setFaults({ errorRate: 0.5 });
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) seen.push((await api.post(`conversations/${conv}/messages`, { content: `m${i}` })).status);
      statuses.push(seen);
      expect(seen.every((st) => [200, 500, 502, 503].includes(st))).toBe(true);
      expect(seen.some((st) => st !== 200)).toBe(true);
      expect(s.snapshot().messages).toHaveLength(seen.filter((st) => st === 200).length);
      await s.close();
      sim = undefined;
    }
    expect(statuses[0]).toEqual(statuses[1]);
  });

  it('adds latency and can be driven over HTTP', async () => {
    const { sim, api } = await start();
    const set = await api.post('/_sim/faults', { latencyMs: 120 }, { token: null });
    expect(set.json).toMatchObject({ latencyMs: 120, errorRate: 0, outage: false });
    const t0 = Date.now();
    expect((await api.get('inboxes')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
    expect(sim.faults().latencyMs).toBe(120);
    await api.post('/_sim/stats/reset', undefined, { token: null });
    await api.get('inboxes');
    const stats = (await api.get('/_sim/stats', { token: null })).json;
    expect(stats).toEqual({ requests: 1, byRoute: { 'GET /inboxes': 1 }, byStatus: { '200': 1 }, rateLimited: 0 });
  });
});
