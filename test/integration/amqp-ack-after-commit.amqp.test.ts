/**
 * Ack only after commit, proven from the broker's side: while the ledger cannot write, RabbitMQ
 * itself reports the deliveries as unacknowledged; once the ledger writes again, they are stored
 * once and acked. PostgreSQL, because another session can hold a table lock (or hide the table)
 * without touching evosync's own connections — a real blocked or failing commit, not a mock.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Evosync } from '../../src/app.js';
import { amqpAvailable, createTestDatabase, postgresAvailable } from '../helpers/services.js';
import { Broker, startEvosync, uid, until, upsert } from './amqp-harness.js';

const run = promisify(execFile);
const available = (await amqpAvailable()) && (await postgresAvailable());

/** The broker's own count of unacked deliveries on a queue (rabbitmqctl, read-only). */
async function brokerUnacked(queue: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', '--no-table-headers', 'name', 'messages_unacknowledged']);
  const line = stdout.split('\n').find((l) => l.split('\t')[0] === queue);
  if (!line) throw new Error(`queue ${queue} not listed by rabbitmqctl`);
  return Number(line.split('\t')[1]);
}

describe.skipIf(!available)('RabbitMQ ingest acks after commit (PostgreSQL ledger)', () => {
  let db: { url: string; drop: () => Promise<void> };
  let broker: Broker;
  let app: Evosync | null = null;
  let holder: pg.Client | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  afterEach(async () => {
    await holder?.end().catch(() => undefined);
    holder = null;
    await app?.stop();
    app = null;
    await broker?.cleanup();
  });

  const setup = async () => {
    broker = await new Broker().open();
    const inst = `t_${uid()}`;
    const queue = `evosync.test.${uid()}`;
    broker.queues.add(queue);
    broker.exchanges.add(inst);
    app = await startEvosync({ EVOSYNC_DATABASE_URL: db.url, EVOSYNC_INSTANCES: inst, EVOSYNC_AMQP_QUEUE: queue });
    const a = app;
    await until('consumer connected', () => a.amqp?.state === 'connected');
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    return { app: a, inst, queue, holder };
  };

  const stored = async (a: Evosync, inst: string) => (await a.ledger.listMessages({ instance: inst, limit: 1000 })).length;

  it('keeps deliveries unacked while the ledger write is blocked, and acks them once committed', async () => {
    const { app, inst, queue, holder } = await setup();
    await holder.query('begin');
    await holder.query('lock table messages in access exclusive mode');

    for (let i = 0; i < 50; i++) broker.publish(inst, 'messages.upsert', upsert(inst, `BLOCKED${i}`, 5511900000001 + (i % 5)));
    await until('all 50 delivered to evosync', () => app.amqp!.status().received === 50);
    // Queue statistics reach rabbitmqctl every few seconds (collect_statistics_interval).
    await until('broker reports 50 unacked', async () => (await brokerUnacked(queue)) === 50, 15_000);
    expect(app.amqp!.status().acked).toBe(0);

    await holder.query('rollback');
    await until('acked after commit', () => app.amqp!.status().acked === 50);
    expect(await stored(app, inst)).toBe(50);
    await until('broker saw the acks', async () => (await brokerUnacked(queue)) === 0, 15_000);
  });

  it('holds a delivery whose commit fails and retries it; nothing is acked before it is stored', async () => {
    const { app, inst, queue, holder } = await setup();
    // Hide the table: every insert fails with "relation does not exist" (a real ledger error).
    await holder.query('alter table messages rename to messages_hidden');
    try {
      for (let i = 0; i < 20; i++) broker.publish(inst, 'messages.upsert', upsert(inst, `FAIL${i}`));
      await until('commits failing', () => app.amqp!.status().commitRetries >= 20);
      expect(app.amqp!.status().acked).toBe(0);
      await until('broker reports 20 unacked', async () => (await brokerUnacked(queue)) === 20, 15_000);
      expect(app.amqp!.status().acked).toBe(0);
      expect(app.amqp!.status().lastError).toMatch(/commit/);
    } finally {
      await holder.query('alter table messages_hidden rename to messages');
    }
    await until('stored and acked after the ledger recovered', () => app.amqp!.status().acked === 20, 20_000);
    expect(await stored(app, inst)).toBe(20);
    await until('broker saw the acks', async () => (await brokerUnacked(queue)) === 0, 15_000);
  });
});
