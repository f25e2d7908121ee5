import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundaryOf, parseMultipart } from '../../sim/chatwoot/multipart.js';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { encodeMultipart } from '../../src/chatwoot/multipart.js';
import { EvolutionClient } from '../../src/evolution/client.js';
import { fetchEvolutionMedia } from '../../src/evolution/media-fetch.js';
import { base64DecodedBytes } from '../../src/evolution/media-limits.js';
import { storedFixture } from '../fixtures/evolution-messages.js';

describe('encodeMultipart', () => {
  it('writes fields and file parts that a Rack-style parser reads back byte for byte, with the exact part type', () => {
    const data = Buffer.from([0, 255, 13, 10, 45, 45, 1, 2, 3]);
    const { body, contentType } = encodeMultipart({
      fields: [['content', 'olá\r\nmundo'], ['content_attributes', '{"in_reply_to":5}']],
      files: [{ field: 'attachments[]', fileName: 'relatório "final".pdf', contentType: 'application/pdf', data }],
    });
    const parsed = parseMultipart(body, boundaryOf(contentType)!);
    expect(parsed.fields).toEqual([{ name: 'content', value: 'olá\r\nmundo' }, { name: 'content_attributes', value: '{"in_reply_to":5}' }]);
    expect(parsed.files).toHaveLength(1);
    expect(parsed.files[0]).toMatchObject({ name: 'attachments[]', filename: 'relatório %22final%22.pdf', contentType: 'application/pdf' });
    expect(parsed.files[0]!.data.equals(data)).toBe(true);
  });
});

describe('base64DecodedBytes', () => {
  it('matches what Buffer decodes', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 1000, 1001]) expect(base64DecodedBytes(Buffer.alloc(n, 7).toString('base64'))).toBe(n);
  });
});

describe('fetchEvolutionMedia against the Evolution simulator', () => {
  let evo: EvolutionSim;
  let client: EvolutionClient;
  beforeAll(async () => {
    evo = await createEvolutionSim({ seed: 5, instances: ['m1'] });
    client = new EvolutionClient(evo.url, evo.apiKey, 5000);
    const rows = ['F1', 'F2', 'F3', 'F4'].map((id, i) => storedFixture(i === 3 ? 'location' : 'document', 'm1', { id, ts: 1_760_000_000 + i }));
    await evo.publish(rows);
  });
  afterAll(async () => {
    await client.close();
    await evo.close();
  });

  it('returns the stored file with Evolution\'s mimetype and file name', async () => {
    const bytes = Buffer.from('%PDF-1.4 fake invoice');
    evo.media.put('F1', bytes);
    const r = await fetchEvolutionMedia(client.http, 'm1', 'F1', 1024 * 1024);
    expect(r).toMatchObject({ kind: 'file', mimetype: 'application/pdf', fileName: 'Invoice 0042.pdf' });
    expect(r.kind === 'file' && r.data.equals(bytes)).toBe(true);
  });

  it('gives up at once on what no retry can change: not stored, not media, over the limit', async () => {
    expect(await fetchEvolutionMedia(client.http, 'm1', 'NOPE', 1024)).toMatchObject({ kind: 'gone', reason: expect.stringMatching(/not stored this message/) });
    expect(await fetchEvolutionMedia(client.http, 'm1', 'F4', 1024)).toMatchObject({ kind: 'gone', reason: expect.stringMatching(/does not see a media file/) });
    evo.media.put('F2', Buffer.alloc(5000, 1));
    expect(await fetchEvolutionMedia(client.http, 'm1', 'F2', 2048)).toMatchObject({ kind: 'gone', reason: expect.stringMatching(/larger than evosync's media limit/) });
    expect(await fetchEvolutionMedia(client.http, 'nosuchinstance', 'F2', 2048)).toMatchObject({ kind: 'gone', reason: expect.stringMatching(/404/) });
  });

  it('tells a WhatsApp download failure (Evolution 400) from Evolution itself failing (5xx: retry)', async () => {
    evo.media.expire('F3');
    const expired = await fetchEvolutionMedia(client.http, 'm1', 'F3', 1024 * 1024);
    expect(expired).toMatchObject({ kind: 'download_failed', reason: expect.stringMatching(/Failed to fetch stream/), failure: { code: 'EVOLUTION_MEDIA_FAILED' } });
    evo.media.failNext('F1', 1, 503);
    expect(await fetchEvolutionMedia(client.http, 'm1', 'F1', 1024 * 1024)).toMatchObject({ kind: 'retry', failure: { kind: 'server', status: 503, code: 'EVOLUTION_MEDIA_FAILED' } });
    expect((await fetchEvolutionMedia(client.http, 'm1', 'F1', 1024 * 1024)).kind).toBe('file');
    const bad = new EvolutionClient(evo.url, 'wrong-key', 5000);
    expect(await fetchEvolutionMedia(bad.http, 'm1', 'F1', 1024)).toMatchObject({ kind: 'retry', failure: { kind: 'unauthorized' } });
    await bad.close();
    const down = new EvolutionClient('http://127.0.0.1:9', 'k', 2000);
    expect(await fetchEvolutionMedia(down.http, 'm1', 'F1', 1024)).toMatchObject({ kind: 'retry', failure: { kind: 'unreachable' } });
    await down.close();
  });
});
