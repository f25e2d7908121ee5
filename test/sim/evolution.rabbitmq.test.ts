/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are explored as loose JSON */
/**
 * The RabbitMQ transport against the real broker. Every test uses its own instance/exchange names
 * and deletes what it (or the sim on its behalf) declared.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { Channel, ChannelModel, GetMessage } from 'amqplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/lifecycle.js';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';

const URI = process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

let conn: ChannelModel;
let ch: Channel;
let sim: EvolutionSim | undefined;
const cleanup: { queues: string[]; exchanges: string[] } = { queues: [], exchanges: [] };

const uid = (): string => randomBytes(4).toString('hex');

beforeEach(async () => {
  conn = await amqp.connect(URI);
  ch = await conn.createChannel();
});

afterEach(async () => {
  await sim?.close();
  sim = undefined;
  // A fresh channel: a test may have broken its own on purpose.
  const c = await conn.createChannel();
  for (const q of cleanup.queues.splice(0)) await c.deleteQueue(q).catch(() => undefined);
  for (const x of cleanup.exchanges.splice(0)) await c.deleteExchange(x).catch(() => undefined);
  await conn.close().catch(() => undefined);
});

/** What evosync does: declare the instance exchange itself, then its own queue bound to it. */
async function ownQueue(exchange: string, pattern: string): Promise<string> {
  await ch.assertExchange(exchange, 'topic', { durable: true, autoDelete: false });
  const q = `test.own.${uid()}`;
  await ch.assertQueue(q, { durable: false, exclusive: false, autoDelete: false });
  await ch.bindQueue(q, exchange, pattern);
  cleanup.queues.push(q);
  return q;
}

async function drain(queue: string, count: number, timeoutMs = 5_000): Promise<GetMessage[]> {
  const got: GetMessage[] = [];
  const until = Date.now() + timeoutMs;
  while (got.length < count && Date.now() < until) {
    const m = await ch.get(queue, { noAck: true });
    if (m) got.push(m);
    else await new Promise((r) => setTimeout(r, 20));
  }
  return got;
}

describe('RabbitMQ per-instance mode', () => {
  it('publishes to the instance exchange: own queue receives, Evolution declares its quorum queue, no AMQP properties', async () => {
    const instance = `evo_t_${uid()}`;
    const exchangeName = `evo_x_${uid()}`;
    cleanup.exchanges.push(instance, exchangeName);
    cleanup.queues.push(`${instance}.messages.upsert`);
    const mine = await ownQueue(instance, 'messages.*');

    sim = await createEvolutionSim({ instances: [instance] });
    await sim.setRabbitmq({ uri: URI, mode: 'instance', exchangeName, events: ['MESSAGES_UPSERT'] });
    const { messages, report } = await sim.run({ instance, chats: 2, messages: 5 });
    expect(report.rabbitmqDropped).toBe(0);

    const got = await drain(mine, 5);
    expect(got).toHaveLength(5);
    const first = got[0]!;
    expect(first.fields.exchange).toBe(instance);
    expect(first.fields.routingKey).toBe('messages.upsert');
    // No persistent flag, no content type, no message id: Evolution sets no properties at all.
    expect(first.properties.deliveryMode).toBeUndefined();
    expect(first.properties.contentType).toBeUndefined();
    expect(first.properties.messageId).toBeUndefined();
    const body = JSON.parse(first.content.toString()) as Record<string, any>;
    expect(Object.keys(body)).toEqual(['event', 'instance', 'data', 'server_url', 'date_time', 'sender', 'apikey']);
    expect(body['event']).toBe('messages.upsert');
    expect(body['instance']).toBe(instance);
    expect(new Set(got.map((g) => JSON.parse(g.content.toString()).data.key.id))).toEqual(new Set(messages.map((m) => m.key.id)));

    // Evolution's own queue exists, durable and quorum: a classic redeclare is refused.
    const evoQueue = `${instance}.messages.upsert`;
    await expect(ch.checkQueue(evoQueue)).resolves.toMatchObject({ queue: evoQueue });
    const probe = await conn.createChannel();
    probe.on('error', () => undefined);
    await expect(probe.assertQueue(evoQueue, { durable: true })).rejects.toThrow(/PRECONDITION_FAILED|inequivalent/);

    // Once declared and bound, later events reach Evolution's queue too.
    await sim.run({ instance, chats: 1, messages: 2 });
    await drain(mine, 2);
    // A quorum queue's message count is reported a moment after the enqueue (Raft): read until it shows.
    const count = await until('Evolution\'s own queue to count the 2 later events', async () => {
      const n = (await ch.checkQueue(evoQueue)).messageCount;
      return n >= 2 ? n : null;
    }, 10_000);
    expect(count).toBeGreaterThanOrEqual(2);
  });

  it('drops events while the channel is down, then reconnects with backoff', async () => {
    const instance = `evo_t_${uid()}`;
    const exchangeName = `evo_x_${uid()}`;
    const evoQueue = `${instance}.messages.upsert`;
    cleanup.exchanges.push(instance, exchangeName);
    cleanup.queues.push(evoQueue);
    const mine = await ownQueue(instance, '#');
    // Someone declared Evolution's queue name as a classic queue: its next assert fails
    // with PRECONDITION_FAILED, which closes the channel.
    await ch.assertQueue(evoQueue, { durable: false });

    sim = await createEvolutionSim({ instances: [instance] });
    await sim.setRabbitmq({ uri: URI, mode: 'instance', exchangeName, events: ['MESSAGES_UPSERT'], reconnectBaseMs: 300 });
    await sim.run({ instance, chats: 1, messages: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const { report } = await sim.run({ instance, chats: 1, messages: 3 });
    expect(report.rabbitmqDropped).toBe(3);

    await ch.deleteQueue(evoQueue);
    let delivered = false;
    for (let i = 0; i < 40 && !delivered; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await sim.run({ instance, chats: 1, messages: 1 });
      delivered = r.report.rabbitmqDropped === 0;
    }
    expect(delivered).toBe(true);
    expect((await drain(mine, 2)).length).toBeGreaterThanOrEqual(2);
  });
});

describe('RabbitMQ global mode', () => {
  it('publishes to the global exchange with the raw event as routing key and prefixed queues', async () => {
    const instance = `evo_t_${uid()}`;
    const exchangeName = `evo_gx_${uid()}`;
    const prefix = `evo_p_${uid()}`;
    cleanup.exchanges.push(exchangeName);
    cleanup.queues.push(`${prefix}.messages.upsert`);
    const mine = await ownQueue(exchangeName, 'messages.upsert');

    sim = await createEvolutionSim({ instances: [instance] });
    await sim.setRabbitmq({ uri: URI, mode: 'global', exchangeName, prefixKey: prefix, events: ['MESSAGES_UPSERT'] });
    await sim.run({ instance, chats: 1, messages: 3 });
    const got = await drain(mine, 3);
    expect(got).toHaveLength(3);
    expect(got.every((g) => g.fields.exchange === exchangeName && g.fields.routingKey === 'messages.upsert')).toBe(true);
    expect(JSON.parse(got[0]!.content.toString()).instance).toBe(instance);
    await expect(ch.checkQueue(`${prefix}.messages.upsert`)).resolves.toMatchObject({ queue: `${prefix}.messages.upsert` });
  });
});
