/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are explored as loose JSON */
/**
 * POST /chat/findMessages quirks (reference §4), against the sim over HTTP: offset is the page
 * size, 1-based pages, always newest first, the both-bounds date rule, fromMe:false ignored,
 * remoteJid/remoteJidAlt handling, record shape; plus the guards (404 before 401).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvolutionSim, type EvolutionSim, type StoredMessage } from '../../sim/evolution/index.js';

let sim: EvolutionSim;
let messages: StoredMessage[];
const START = 1_760_000_000;

beforeAll(async () => {
  sim = await createEvolutionSim({ instances: ['inst1', 'other'], seed: 11 });
  messages = sim.generate({ chats: 4, messages: 120, fromMeRate: 0.4, lidRate: 0.5, groupRate: 0, startTimestamp: START });
  sim.generate({ instance: 'other', chats: 1, messages: 5 });
});
afterAll(async () => {
  await sim.close();
});

type Page = { messages: { total: number; pages: number; currentPage: number; records: Record<string, any>[] } };

async function find(body: unknown, opts: { key?: string; instance?: string } = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${sim.url}/chat/findMessages/${opts.instance ?? 'inst1'}`, {
    method: 'POST',
    headers: { apikey: opts.key ?? sim.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}
const page = async (body: unknown): Promise<Page> => {
  const r = await find(body);
  expect(r.status).toBe(200);
  return r.json as Page;
};

describe('findMessages pagination', () => {
  it('treats offset as the page size and page as 1-based, newest first', async () => {
    const p1 = await page({ offset: 50, page: 1 });
    expect(p1.messages).toMatchObject({ total: 120, pages: 3, currentPage: 1 });
    expect(p1.messages.records).toHaveLength(50);
    const p3 = await page({ offset: 50, page: 3 });
    expect(p3.messages.records).toHaveLength(20);
    const all = [...p1.messages.records, ...(await page({ offset: 50, page: 2 })).messages.records, ...p3.messages.records];
    const ts = all.map((r) => r['messageTimestamp'] as number);
    expect(ts).toEqual([...ts].sort((a, b) => b - a));
    expect(new Set(all.map((r) => r['id'])).size).toBe(120);
    expect(all[0]?.['messageTimestamp']).toBe(START + 119);
  });

  it('defaults to 50 per page and ignores `limit` and `sort`', async () => {
    const p = await page({ limit: 5, sort: { messageTimestamp: 'asc' } });
    expect(p.messages.records).toHaveLength(50);
    expect(p.messages.records[0]?.['messageTimestamp']).toBe(START + 119);
  });

  it('applies the date filter only when both gte and lte are given', async () => {
    const gteOnly = await page({ where: { messageTimestamp: { gte: new Date((START + 100) * 1000).toISOString() } } });
    expect(gteOnly.messages.total).toBe(120);
    const both = await page({
      where: { messageTimestamp: { gte: new Date((START + 10) * 1000).toISOString(), lte: (START + 19) * 1000 } },
    });
    expect(both.messages.total).toBe(10);
  });
});

describe('findMessages key filters', () => {
  it('ignores fromMe:false (#1797) but honours fromMe:true', async () => {
    const own = messages.filter((m) => m.key.fromMe).length;
    expect((await page({ where: { key: { fromMe: false } } })).messages.total).toBe(120);
    expect((await page({ where: { key: { fromMe: true } } })).messages.total).toBe(own);
  });

  it('filters by key.id and returns the stored row shape', async () => {
    const m = messages[5]!;
    const p = await page({ where: { key: { id: m.key.id } } });
    expect(p.messages.total).toBe(1);
    const rec = p.messages.records[0]!;
    expect(Object.keys(rec)).toEqual(['id', 'key', 'pushName', 'messageType', 'message', 'messageTimestamp', 'instanceId', 'source', 'contextInfo', 'MessageUpdate']);
    expect(rec['id']).toBe(m.id);
    expect(rec['key']).toEqual(m.key);
    // jsonb orders object keys by length first.
    expect(Object.keys(rec['key'])[0]).toBe('id');
    expect(rec).not.toHaveProperty('chatwootMessageId');
    expect(rec['MessageUpdate']).toEqual([]);
  });

  it('lists receipts in MessageUpdate', async () => {
    const m = messages.find((x) => x.key.fromMe)!;
    await sim.receipt('inst1', m.key.id, 'READ');
    const p = await page({ where: { key: { id: m.key.id } } });
    expect(p.messages.records[0]?.['MessageUpdate']).toEqual([{ status: 'READ' }]);
  });

  it('remoteJid and remoteJidAlt: either alone filters; together only remoteJid counts', async () => {
    const m = messages.find((x) => x.key.remoteJid.endsWith('@lid') && x.key.remoteJidAlt)!;
    const lid = m.key.remoteJid;
    const pn = m.key.remoteJidAlt as string;
    const inChat = messages.filter((x) => x.key.remoteJid === lid).length;
    expect((await page({ where: { key: { remoteJid: lid } } })).messages.total).toBe(inChat);
    expect((await page({ where: { key: { remoteJidAlt: pn } } })).messages.total).toBe(
      messages.filter((x) => x.key.remoteJidAlt === pn).length,
    );
    // remoteJid is ANDed on its own too, so the phone never matches a raw @lid row.
    expect((await page({ where: { key: { remoteJid: pn } } })).messages.total).toBe(0);
    expect((await page({ where: { key: { remoteJid: pn, remoteJidAlt: pn } } })).messages.total).toBe(0);
  });

  it('rejects an empty key.remoteJid with Evolution 400 body', async () => {
    const r = await find({ where: { key: { remoteJid: '' } } });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ status: 400, error: 'Bad Request', response: { message: ['The property cannot be empty'] } });
  });

  it('only sees its own instance', async () => {
    const r = await find({}, { instance: 'other' });
    expect(r.json.messages.total).toBe(5);
  });
});

describe('guards', () => {
  it('404 for an unknown instance, even without a valid key', async () => {
    const r = await find({}, { instance: 'nope', key: 'wrong' });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ status: 404, error: 'Not Found', response: { message: ['The "nope" instance does not exist'] } });
  });

  it('401 for a wrong key; the instance token works for its instance only', async () => {
    const bad = await find({}, { key: 'wrong' });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual({ status: 401, error: 'Unauthorized', response: { message: 'Unauthorized' } });
    expect((await find({}, { key: sim.instanceToken('inst1') })).status).toBe(200);
    expect((await find({}, { key: sim.instanceToken('other') })).status).toBe(401);
  });
});
