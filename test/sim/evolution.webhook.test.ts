/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are explored as loose JSON */
/**
 * The fake Evolution's webhook transport against a real HTTP receiver: envelope, byEvents paths,
 * Evolution's retry rules, publish faults, jwt_key, global webhook, base64 and connection events.
 */
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { startReceiver, type Received, type Receiver } from '../../sim/evolution/receiver.js';

type Body = { event: string; instance: string; data: Record<string, any>; destination: string; date_time: string; sender: string; server_url: string; apikey: string | null };

let sim: EvolutionSim | undefined;
let rx: Receiver | undefined;
let rx2: Receiver | undefined;

afterEach(async () => {
  await sim?.close();
  await rx?.close();
  await rx2?.close();
  sim = rx = rx2 = undefined;
});

const body = (r: Received): Body => r.body as Body;
const ofEvent = (event: string) => (r: Received) => body(r).event === event;

describe('webhook envelope', () => {
  it('posts exactly {event, instance, data, destination, date_time, sender, server_url, apikey} with the instance headers', async () => {
    rx = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'], serverUrl: 'https://evo.example.com', contactEvents: false });
    sim.setWebhook('inst1', { url: `${rx.url}/hook`, headers: { 'x-secret': 's3' }, events: ['MESSAGES_UPSERT'] });
    const { messages, report } = await sim.run({ chats: 1, messages: 1 });
    expect(report.published).toBe(1);

    const [r] = await rx.waitFor(() => true);
    const b = body(r as Received);
    expect(Object.keys(b)).toEqual(['event', 'instance', 'data', 'destination', 'date_time', 'sender', 'server_url', 'apikey']);
    expect(r?.path).toBe('/hook');
    expect(r?.headers['x-secret']).toBe('s3');
    expect(r?.headers['content-type']).toBe('application/json');
    expect(b.event).toBe('messages.upsert');
    expect(b.instance).toBe('inst1');
    expect(b.destination).toBe(`${rx.url}/hook`);
    expect(b.server_url).toBe('https://evo.example.com');
    expect(b.apikey).toBe(sim.instanceToken('inst1'));
    expect(b.sender).toMatch(/^\d+@s\.whatsapp\.net$/);
    // Local wall-clock time written with a Z suffix (real UTC only when TZ=UTC).
    const localNow = Date.now() - new Date().getTimezoneOffset() * 60_000;
    expect(b.date_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(b.date_time) - localNow)).toBeLessThan(10_000);

    const m = messages[0]!;
    // A plain `conversation` has no contextInfo field at all: the key is absent, not null.
    expect(Object.keys(b.data)).toEqual(['key', 'pushName', 'status', 'message', 'messageType', 'messageTimestamp', 'instanceId', 'source']);
    expect(b.data['key']).toEqual(m.key);
    expect(b.data['status']).toBe('DELIVERY_ACK');
    expect(b.data['messageType']).toBe('conversation');
    expect(b.data['messageTimestamp']).toBe(m.messageTimestamp);
    expect(b.data['messageTimestamp']).toBeLessThan(1e10);
    expect(b.data['instanceId']).toBe(sim.instanceId('inst1'));
  });

  it('appends the byEvents suffix to the URL but not to destination', async () => {
    rx = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'] });
    sim.setWebhook('inst1', { url: `${rx.url}/wh`, byEvents: true, events: [] });
    await sim.run({ chats: 1, messages: 1 });
    await sim.setConnection('inst1', 'open');
    const send = await fetch(`${sim.url}/message/sendText/inst1`, {
      method: 'POST',
      headers: { apikey: sim.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ number: '5511988887777', text: 'oi' }),
    });
    expect(send.status).toBe(201);
    const seen = await rx.waitFor(() => true, 4);
    const paths = new Set(seen.map((r) => r.path));
    expect(paths).toEqual(new Set(['/wh/messages-upsert', '/wh/contacts-upsert', '/wh/connection-update', '/wh/send-message']));
    for (const r of seen) expect(body(r).destination).toBe(`${rx.url}/wh`);
  });
});

describe('webhook retries', () => {
  it('retries a failing endpoint with backoff until it succeeds', async () => {
    rx = await startReceiver((r) => (r.n <= 2 ? 503 : 200));
    sim = await createEvolutionSim({ instances: ['inst1'], contactEvents: false });
    sim.setWebhookRetry({ initialDelayMs: 40, maxDelayMs: 200 });
    sim.setWebhook('inst1', { url: rx.url, events: ['MESSAGES_UPSERT'] });
    const started = Date.now();
    const { report } = await sim.run({ chats: 1, messages: 1 });
    expect(report.webhookFailures).toBe(2);
    expect(report.webhookGaveUp).toBe(0);
    expect(rx.received).toHaveLength(3);
    expect(new Set(rx.received.map((r) => r.raw)).size).toBe(1);
    // 40 ms then ~80 ms (±20 % jitter, never below the initial delay).
    expect(Date.now() - started).toBeGreaterThanOrEqual(40 + 64);
  });

  it.each([400, 401, 403, 404, 422])('gives up at once on %i', async (status) => {
    rx = await startReceiver(() => status);
    sim = await createEvolutionSim({ instances: ['inst1'], contactEvents: false });
    sim.setWebhookRetry({ initialDelayMs: 10 });
    sim.setWebhook('inst1', { url: rx.url, events: ['MESSAGES_UPSERT'] });
    const { report } = await sim.run({ chats: 1, messages: 1 });
    expect(rx.received).toHaveLength(1);
    expect(report.webhookFailures).toBe(1);
    expect(report.webhookGaveUp).toBe(1);
  });

  it('keeps retrying other statuses (429) until the attempts run out', async () => {
    rx = await startReceiver(() => 429);
    sim = await createEvolutionSim({ instances: ['inst1'], contactEvents: false });
    sim.setWebhookRetry({ maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 });
    sim.setWebhook('inst1', { url: rx.url, events: ['MESSAGES_UPSERT'] });
    const { report } = await sim.run({ chats: 1, messages: 1 });
    expect(rx.received).toHaveLength(3);
    expect(report.webhookGaveUp).toBe(1);
  });

  it('times out a slow endpoint and retries', async () => {
    rx = await startReceiver((r) => (r.n === 1 ? { status: 200, delayMs: 400 } : 200));
    sim = await createEvolutionSim({ instances: ['inst1'], contactEvents: false });
    sim.setWebhookRetry({ timeoutMs: 100, initialDelayMs: 10 });
    sim.setWebhook('inst1', { url: rx.url, events: ['MESSAGES_UPSERT'] });
    const { report } = await sim.run({ chats: 1, messages: 1 });
    expect(report.webhookFailures).toBe(1);
    expect(rx.received).toHaveLength(2);
  });
});

describe('publish faults', () => {
  it('drops and duplicates events, and the report matches what the receiver saw', async () => {
    rx = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'], seed: 7, contactEvents: false });
    sim.setWebhook('inst1', { url: rx.url, events: ['MESSAGES_UPSERT'] });
    sim.setFaults({ dropRate: 0.2, duplicateRate: 0.2 });
    const { messages, report } = await sim.run({ chats: 5, messages: 200 });
    const counts = new Map<string, number>();
    for (const r of rx.received) {
      const id = (body(r).data['key'] as { id: string }).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const never = messages.filter((m) => !counts.has(m.key.id));
    const twice = messages.filter((m) => counts.get(m.key.id) === 2);
    expect(report.dropped).toBeGreaterThan(10);
    expect(report.duplicated).toBeGreaterThan(10);
    expect(never).toHaveLength(report.dropped);
    expect(twice).toHaveLength(report.duplicated);
    expect(report.published + report.dropped).toBe(200);
    // Dropped events are still stored: reconciliation can find them.
    expect(sim.stored('inst1').map((m) => m.id)).toEqual(expect.arrayContaining(never.map((m) => m.id)));
  });

  it('reorders within windows and can publish a receipt before its upsert', async () => {
    rx = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'], seed: 3, contactEvents: false });
    sim.setWebhook('inst1', { url: rx.url, events: ['MESSAGES_UPSERT', 'MESSAGES_UPDATE'] });
    sim.setFaults({ reorderWindow: 8, receiptBeforeMessage: true });
    const { messages, report } = await sim.run({ chats: 3, messages: 40, fromMeRate: 1, groupRate: 0 }, { concurrency: 1 });
    expect(report.receipts).toBe(40);
    const order = rx.received.map((r) => {
      const b = body(r);
      return `${b.event}:${b.event === 'messages.update' ? b.data['keyId'] : b.data['key'].id}`;
    });
    const upserts = order.filter((o) => o.startsWith('messages.upsert')).map((o) => o.split(':')[1]);
    expect(upserts).toHaveLength(40);
    expect(upserts).not.toEqual(messages.map((m) => m.key.id));
    const early = messages.filter((m) => order.indexOf(`messages.update:${m.key.id}`) < order.indexOf(`messages.upsert:${m.key.id}`));
    expect(early.length).toBeGreaterThan(0);
    const receipt = body(rx.received.find(ofEvent('messages.update')) as Received).data;
    expect(Object.keys(receipt)).toEqual(['keyId', 'remoteJid', 'fromMe', 'status', 'instanceId', 'messageId']);
    expect(receipt['status']).toBe('DELIVERY_ACK');
  });
});

describe('webhook options', () => {
  it('replaces a jwt_key header by an HS256 bearer token', async () => {
    rx = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'], contactEvents: false });
    sim.setWebhook('inst1', { url: rx.url, headers: { jwt_key: 'k3y' }, events: ['MESSAGES_UPSERT'] });
    await sim.run({ chats: 1, messages: 1 });
    const [r] = await rx.waitFor(() => true);
    expect(r?.headers['jwt_key']).toBeUndefined();
    const token = String(r?.headers['authorization']).replace(/^Bearer /, '');
    const [h, p, s] = token.split('.');
    expect(createHmac('sha256', 'k3y').update(`${h}.${p}`).digest('base64url')).toBe(s);
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    expect(claims).toMatchObject({ app: 'evolution', action: 'webhook' });
    expect(claims.exp - claims.iat).toBe(600);
  });

  it('global webhook: no custom headers, no STATUS_INSTANCE/LOGOUT_INSTANCE; instance webhook gets them', async () => {
    rx = await startReceiver();
    rx2 = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'] });
    sim.setWebhook('inst1', { url: rx.url, headers: { 'x-a': '1' }, events: [] });
    sim.setGlobalWebhook({ url: rx2.url, byEvents: true, events: [] });
    await sim.setConnection('inst1', 'close');
    await rx.waitFor(() => true, 3);
    expect(new Set(rx.received.map((r) => body(r).event))).toEqual(new Set(['status.instance', 'logout.instance', 'connection.update']));
    const closeEvt = body(rx.received.find(ofEvent('connection.update')) as Received).data;
    expect(closeEvt).toEqual({ instance: 'inst1', state: 'close', statusReason: 401 });
    expect(rx2.received.map((r) => r.path)).toEqual(['/connection-update']);
    expect(rx2.received[0]?.headers['x-a']).toBeUndefined();
  });

  it('transient close emits only connecting; open carries wuid and profile', async () => {
    rx = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'] });
    sim.setWebhook('inst1', { url: rx.url, events: ['CONNECTION_UPDATE'] });
    await sim.setConnection('inst1', 'close', { statusReason: 428 });
    await sim.setConnection('inst1', 'open');
    const data = rx.received.map((r) => body(r).data);
    expect(data[0]).toEqual({ instance: 'inst1', state: 'connecting', statusReason: 200 });
    expect(Object.keys(data[1] ?? {})).toEqual(['instance', 'wuid', 'profileName', 'profilePictureUrl', 'state', 'statusReason']);
    expect(data[1]).toMatchObject({ state: 'open', statusReason: 200 });
  });

  it('base64=true adds message.base64 to media, equal to getBase64FromMediaMessage', async () => {
    rx = await startReceiver();
    sim = await createEvolutionSim({ instances: ['inst1'], contactEvents: false });
    sim.setWebhook('inst1', { url: rx.url, base64: true, events: ['MESSAGES_UPSERT'] });
    const { messages } = await sim.run({ chats: 1, messages: 2, kinds: { image: 1 } });
    const [r] = await rx.waitFor(() => true, 2);
    const data = body(r as Received).data;
    const id = data['key'].id as string;
    const b64 = data['message']['base64'] as string;
    expect(Buffer.from(b64, 'base64').length).toBe(data['message']['imageMessage']['fileLength'].low);
    // The stored row never holds base64 (it is added after the insert).
    expect(messages.find((m) => m.key.id === id)?.message['base64']).toBeUndefined();
    const res = await fetch(`${sim.url}/chat/getBase64FromMediaMessage/inst1`, {
      method: 'POST',
      headers: { apikey: sim.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ message: { key: { id } } }),
    });
    expect(res.status).toBe(201);
    const media = (await res.json()) as Record<string, unknown>;
    expect(media['base64']).toBe(b64);
    expect(media).toMatchObject({ mediaType: 'imageMessage', mimetype: 'image/jpeg', fileName: `${id}.jpeg`, buffer: null });
  });
});
