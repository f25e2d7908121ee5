import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvolutionSim, type EvolutionSim, type StoredMessage } from '../../sim/evolution/index.js';
import { EvolutionClient } from '../../src/evolution/client.js';
import { storedPages } from '../../src/reconcile/stored-messages.js';
import { parseSince } from '../../src/reconcile/since.js';

const START = 1_760_000_000;
let sim: EvolutionSim;
let client: EvolutionClient;
let messages: StoredMessage[];

beforeAll(async () => {
  sim = await createEvolutionSim({ instances: ['inst1'], seed: 5, lidConvention: '2.3.6' });
  // 130 messages one second apart, across LID (raw 2.3.6 keys), group and phone chats.
  messages = sim.generate({ instance: 'inst1', chats: 5, messages: 130, lidRate: 0.5, groupRate: 0.2, startTimestamp: START });
  client = new EvolutionClient(sim.url, sim.apiKey, 5000);
});
afterAll(async () => {
  await client.close();
  await sim.close();
});

const ms = (s: number) => s * 1000;

describe('EvolutionClient.findMessages', () => {
  it('sends offset as the page size and 1-based pages, newest first', async () => {
    const p1 = await client.findMessages('inst1', { gte: ms(START), lte: ms(START + 1000), page: 1, pageSize: 50 });
    const p3 = await client.findMessages('inst1', { gte: ms(START), lte: ms(START + 1000), page: 3, pageSize: 50 });
    expect(p1.ok && p3.ok).toBe(true);
    if (!p1.ok || !p3.ok) return;
    expect(p1.value).toMatchObject({ total: 130, pages: 3, page: 1 });
    expect(p1.value.records).toHaveLength(50);
    expect(p3.value.records).toHaveLength(30);
    expect(p1.value.records[0]?.messageTimestamp).toBe(START + 129);
    expect(p3.value.records.at(-1)?.messageTimestamp).toBe(START);
  });

  it('always sends both date bounds, so the window really filters', async () => {
    const r = await client.findMessages('inst1', { gte: ms(START + 10), lte: ms(START + 19), page: 1, pageSize: 100 });
    expect(r.ok && r.value.total).toBe(10);
    await expect(client.findMessages('inst1', { gte: 2, lte: 1, page: 1, pageSize: 10 })).rejects.toThrow(RangeError);
    await expect(client.findMessages('inst1', { gte: 1, lte: 2, page: 0, pageSize: 10 })).rejects.toThrow(/page/);
  });

  it('classifies failures: a wrong API key is unauthorized, an unknown instance not found', async () => {
    const bad = new EvolutionClient(sim.url, 'wrong-key', 5000);
    const r = await bad.findMessages('inst1', { gte: 0, lte: ms(START + 1000), page: 1, pageSize: 10 });
    await bad.close();
    expect(r.ok ? null : r.failure.kind).toBe('unauthorized');
    const missing = await client.findMessages('nope', { gte: 0, lte: ms(START + 1000), page: 1, pageSize: 10 });
    expect(missing.ok ? null : missing.failure.kind).toBe('not_found');
  });

  it('lists instance names', async () => {
    const r = await client.instanceNames();
    expect(r.ok && r.value).toEqual(['inst1']);
  });
});

describe('storedPages', () => {
  it('reads a window exactly once through every page size, and normalises raw LID keys to the canonical chat', async () => {
    for (const pageSize of [1, 7, 50, 130, 500]) {
      const seen: string[] = [];
      let pages = 0;
      for await (const p of storedPages(client, { instance: 'inst1', fromMs: ms(START), toMs: ms(START + 129), chat: null, pageSize })) {
        pages += 1;
        seen.push(...p.messages.map((m) => m.message.waId));
        for (const m of p.messages) expect(m.message.chat).toBe(messages.find((x) => x.key.id === m.message.waId)?.canonicalJid);
        expect(p.unusable).toEqual([]);
      }
      expect(pages).toBe(Math.ceil(130 / pageSize));
      expect(new Set(seen).size).toBe(seen.length);
      // Reactions and other skipped kinds are not messages: everything else is there.
      expect(seen.length).toBeGreaterThan(100);
    }
  });

  it('filters one chat after normalisation, whatever key the row was stored under', async () => {
    const lidChat = messages.find((m) => m.key.remoteJid.endsWith('@lid') && m.key.remoteJidAlt)!;
    const want = messages.filter((m) => m.canonicalJid === lidChat.canonicalJid).map((m) => m.key.id);
    const got: string[] = [];
    for await (const p of storedPages(client, { instance: 'inst1', fromMs: ms(START), toMs: ms(START + 129), chat: lidChat.canonicalJid, pageSize: 20 })) got.push(...p.messages.map((m) => m.message.waId));
    expect(got.length).toBeGreaterThan(0);
    expect(want).toEqual(expect.arrayContaining(got));
  });

  it('parses look-backs and refuses bare numbers', () => {
    expect(parseSince('2h', 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parseSince('90s', 100_000)).toBe(10_000);
    expect(() => parseSince('7200', 10_000_000)).toThrow(/look-back/);
  });
});
