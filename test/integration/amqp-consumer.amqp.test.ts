/**
 * RabbitMQ ingest against the real broker (SQLite ledger): topology, poison input, consumer
 * cancellation, and webhook + RabbitMQ for the same instance. Every test declares its own
 * instance/exchange/queue names and deletes them afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import type { Evosync } from '../../src/app.js';
import { DEFAULT_AMQP_EVENTS } from '../../src/config/schema.js';
import { AMQP_URL, amqpAvailable, tempSqliteUrl } from '../helpers/services.js';
import { Broker, startEvosync, uid, until, upsert } from './amqp-harness.js';

const available = await amqpAvailable();

describe.skipIf(!available)('RabbitMQ ingest (SQLite ledger)', () => {
  let broker: Broker;
  let app: Evosync | null = null;
  let evo: EvolutionSim | null = null;

  const setup = async (o: { instances: string[]; queueType?: string; events?: string }) => {
    broker = await new Broker().open();
    const queue = `evosync.test.${uid()}`;
    broker.queues.add(queue);
    for (const i of o.instances) broker.exchanges.add(i);
    app = await startEvosync({
      EVOSYNC_DATABASE_URL: tempSqliteUrl(),
      EVOSYNC_INSTANCES: o.instances.join(','),
      EVOSYNC_AMQP_QUEUE: queue,
      ...(o.queueType ? { EVOSYNC_AMQP_QUEUE_TYPE: o.queueType } : {}),
      ...(o.events ? { EVOSYNC_AMQP_EVENTS: o.events } : {}),
    });
    const a = app;
    await until('consumer connected', () => a.amqp?.state === 'connected');
    return { app: a, queue };
  };

  afterEach(async () => {
    await app?.stop();
    app = null;
    await evo?.close();
    evo = null;
    await broker?.cleanup();
  });

  it('declares its own durable quorum queue, binds it with the routing keys, and leaves Evolution\'s queue names alone', async () => {
    const [a, b] = [`t_${uid()}_a`, `t_${uid()}_b`];
    const { app, queue } = await setup({ instances: [a, b] });

    expect(await broker.queueInfo(queue)).toMatchObject({ consumerCount: 1 });
    // Re-declaring it as classic fails: it is a quorum queue (406 PRECONDITION_FAILED).
    expect(await broker.declareError((ch) => ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } }))).toBe(406);
    expect(await broker.declareError((ch) => ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } }))).toBeNull();
    // The exchanges exist with Evolution's own arguments, so Evolution's re-declaration cannot conflict.
    for (const x of [a, b]) expect(await broker.declareError((ch) => ch.assertExchange(x, 'topic', { durable: true, autoDelete: false }))).toBeNull();

    // Every default routing key is bound on both instance exchanges; others are not.
    for (const x of [a, b]) for (const key of DEFAULT_AMQP_EVENTS) broker.publish(x, key, { event: key, instance: x, data: {} });
    broker.publish(a, 'presence.update', { event: 'presence.update', instance: a, data: {} });
    const bound = 2 * DEFAULT_AMQP_EVENTS.length;
    await until('all bound events received and acked', () => app.amqp!.status().acked >= bound);
    await new Promise((r) => setTimeout(r, 200));
    expect(app.amqp!.status().received).toBe(bound);

    // No queue named like Evolution's (<instance>.<event>) was declared by evosync.
    for (const x of [a, b]) for (const key of DEFAULT_AMQP_EVENTS) expect(await broker.queueInfo(`${x}.${key}`)).toBeNull();
  });

  it('stores poison messages as refused and acks them, so the broker never redelivers them', async () => {
    const inst = `t_${uid()}`;
    const { app, queue } = await setup({ instances: [inst] });
    broker.publish(inst, 'messages.upsert', 'this is {not json');
    broker.publish(inst, 'messages.upsert', { event: 'messages.upsert', instance: inst, data: { key: { nope: true } } });
    broker.publish(inst, 'messages.upsert', upsert(inst, 'GOOD1'));
    await until('three acked', () => app.amqp!.status().acked === 3);

    const refused = await app.ledger.listRefused(10);
    expect(refused.map((r) => [r.source, r.code]).sort()).toEqual([['rabbitmq', 'PAYLOAD_INVALID'], ['rabbitmq', 'PAYLOAD_NOT_JSON']]);
    expect(refused.find((r) => r.code === 'PAYLOAD_NOT_JSON')?.body).toBe('this is {not json');
    expect((await app.ledger.counts()).pending).toBe(1);

    // After a clean stop nothing is left on the queue: unacked deliveries would have been requeued.
    await app.stop();
    expect(await broker.queueInfo(queue)).toMatchObject({ messageCount: 0 });
  });

  it('recovers from consumer cancellation: the deleted queue is re-declared, re-bound and consumed again', async () => {
    const inst = `t_${uid()}`;
    const { app, queue } = await setup({ instances: [inst] });
    broker.publish(inst, 'messages.upsert', upsert(inst, 'BEFORE'));
    await until('first acked', () => app.amqp!.status().acked === 1);
    const connects = app.amqp!.status().connects;

    await broker.ch.deleteQueue(queue);
    await until('consumer back after cancel', () => app.amqp!.status().connects > connects && app.amqp!.state === 'connected');
    expect(await broker.queueInfo(queue)).toMatchObject({ consumerCount: 1 });
    broker.publish(inst, 'messages.upsert', upsert(inst, 'AFTER'));
    await until('second stored', async () => (await app.ledger.counts()).pending === 2);
    expect(app.amqp!.status().lastError).toMatch(/cancel/);
  });

  it('webhook and RabbitMQ delivering the same events for one instance store each message once', async () => {
    const inst = `t_${uid()}`;
    const { app } = await setup({ instances: [inst] });
    const address = await app.listen();
    evo = await createEvolutionSim({ instances: [inst], seed: 7 });
    for (const key of DEFAULT_AMQP_EVENTS) broker.queues.add(`${inst}.${key}`);
    broker.queues.add(`${inst}.contacts.update`);
    evo.setWebhook(inst, { url: `${address}/webhooks/evolution`, headers: { 'x-evosync-token': 'amqp-test-webhook-token-0123' } });
    await evo.setRabbitmq({ uri: AMQP_URL, mode: 'instance', events: ['MESSAGES_UPSERT'] });
    const { messages, report } = await evo.run({ instance: inst, chats: 10, messages: 300, seed: 7 });
    expect(report.rabbitmqDropped).toBe(0);

    await until('both transports delivered everything', () => app.intake.counts.inserted + app.intake.counts.duplicates >= 2 * messages.length - report.dropped * 2);
    const rows = await app.ledger.listMessages({ instance: inst, limit: 10_000 });
    expect(rows).toHaveLength(messages.length);
    expect(new Set(rows.map((r) => r.waId)).size).toBe(messages.length);
    expect(app.intake.counts.inserted).toBe(messages.length);
    // Each message came twice (webhook + RabbitMQ): the second copy was recognised, not stored.
    expect(app.intake.counts.duplicates).toBe(messages.length);
  });
});
