import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { freePort, peakRssMiB, startChild, stopChild, waitHttp } from './child.js';
import { connect } from '../src/ledger/connect.js';
import { brokerPid, type CpuSample, CpuTrace, cpuPerMessage, cpuSample, steadyStretch } from './cpu.js';
import { upsertEnvelope } from './payloads.js';

export interface AmqpIngestFigures {
  backend: string;
  messages: number;
  /** RabbitMQ → ledger, committed then acked, steady state (10%→90% of the run). */
  evosyncPerSecond: number;
  /**
   * amqplib consume + JSON.parse + ack of the same messages, same broker, same run: the mean of a
   * run just before evosync's and one just after (the broker's own speed drifts within minutes),
   * in the median round.
   */
  rawPerSecond: number;
  rawRuns: [before: number, after: number];
  /** evosync / plain of every round; the figures above are the median round's. */
  roundRatios: number[];
  /** Peak RSS of evosync while `memoryMessages` queued up behind an unreachable Chatwoot. */
  peakRssMiB: number | null;
  memoryMessages: number;
  /** CPU µs per message between the 10% and 90% marks (Linux): evosync's threads, the broker, the plain consumer. */
  cpu: { evosync: { mainUs: number; othersUs: number } | null; brokerUs: number | null; rawConsumerUs: number; rawBrokerUs: number | null };
}

const PREFETCH = 500;
const EXCHANGE_OPTS = { durable: true, autoDelete: false } as const;
const QUORUM = { durable: true, arguments: { 'x-queue-type': 'quorum' } } as const;

/** Publishes exactly these bodies: a confirm channel, waited on every 1,000, so the input is known. */
async function publishConfirmed(conn: ChannelModel, exchange: string, bodies: string[]): Promise<void> {
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < bodies.length; i++) {
    ch.publish(exchange, 'messages.upsert', Buffer.from(bodies[i] as string));
    if (i % 1000 === 999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await ch.close();
}

/** Time between the 10% and 90% marks of a run, as messages per second. */
function steadyRate(n: number, marks: { at10: number; at90: number }): number {
  return (0.8 * n) / ((marks.at90 - marks.at10) / 1000);
}

async function rawConsume(conn: ChannelModel, queue: string, n: number): Promise<{ perSecond: number; consumerUs: number; brokerUs: number | null }> {
  const ch: Channel = await conn.createChannel();
  await ch.prefetch(PREFETCH);
  let seen = 0;
  const marks = { at10: 0, at90: 0 };
  const broker = brokerPid();
  let cpu10: NodeJS.CpuUsage | null = null;
  let cpu90: NodeJS.CpuUsage | null = null;
  let broker10: CpuSample | null = null;
  let broker90: CpuSample | null = null;
  await new Promise<void>((resolve) => {
    void ch.consume(queue, (msg) => {
      if (!msg) return;
      JSON.parse(msg.content.toString('utf8'));
      ch.ack(msg);
      seen += 1;
      if (seen === Math.ceil(n * 0.1)) {
        marks.at10 = performance.now();
        cpu10 = process.cpuUsage();
        broker10 = cpuSample(broker);
      }
      if (seen === Math.ceil(n * 0.9)) {
        marks.at90 = performance.now();
        cpu90 = process.cpuUsage(cpu10 ?? undefined);
        broker90 = cpuSample(broker);
      }
      if (seen === n) resolve();
    });
  });
  await ch.close();
  const measured = Math.ceil(n * 0.9) - Math.ceil(n * 0.1);
  const b = cpuPerMessage(broker10, broker90, measured);
  const used = cpu90 as NodeJS.CpuUsage | null;
  return { perSecond: steadyRate(n, marks), consumerUs: used ? (used.user + used.system) / measured : 0, brokerUs: b ? b.mainUs + b.othersUs : null };
}

interface Stats {
  rabbitmq?: { acked: number; state: string };
}

async function stats(port: number): Promise<Stats> {
  return (await (await fetch(`http://127.0.0.1:${port}/api/stats`, { headers: { authorization: 'Bearer bench-api-token-0123456789' } })).json()) as Stats;
}

/**
 * Waits until evosync has acked all `n` deliveries. The broker's queue depth is asked four times a
 * second, evosync itself only at the end: its stats read the ledger's counts, and polled every few
 * milliseconds they took CPU from the run being measured. Its steady stretch is read from the
 * ledger afterwards (see steadyStretch).
 */
async function waitAcked(conn: ChannelModel, queue: string, port: number, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ch = await conn.createChannel();
  try {
    for (;;) {
      const { messageCount } = await ch.checkQueue(queue);
      // What is left once the queue is empty are deliveries in evosync's prefetch window.
      if (messageCount === 0 && ((await stats(port)).rabbitmq?.acked ?? 0) >= n) return;
      if (Date.now() > deadline) throw new Error(`evosync did not ack ${n} messages in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await ch.close();
  }
}

/** When each of an instance's messages reached the ledger (its ingest commit), epoch ms. */
async function committedAt(databaseUrl: string, instance: string): Promise<number[]> {
  const conn = await connect(databaseUrl);
  try {
    const rows = await conn.db.selectFrom('messages').select('received_at').where('instance', '=', instance).execute();
    return rows.map((r) => Number(r.received_at));
  } finally {
    await conn.close();
  }
}

function startEvosync(databaseUrl: string, amqpUrl: string, instance: string, queue: string, port: number) {
  return startChild('dist/src/bin/evosync.js', ['start'], {
    EVOSYNC_DATABASE_URL: databaseUrl, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_LOG_LEVEL: 'error',
    CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 'x', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1',
    EVOSYNC_WEBHOOK_TOKEN: 'bench-webhook-token-0123456789', EVOSYNC_API_TOKEN: 'bench-api-token-0123456789',
    EVOSYNC_AMQP_URL: amqpUrl, EVOSYNC_INSTANCES: instance, EVOSYNC_AMQP_QUEUE: queue,
    // Tuning experiments only: the published figures use the defaults.
    ...(process.env['BENCH_AMQP_PREFETCH'] ? { EVOSYNC_AMQP_PREFETCH: process.env['BENCH_AMQP_PREFETCH'] } : {}),
    ...(process.env['BENCH_INGEST_BATCH_MAX'] ? { EVOSYNC_INGEST_BATCH_MAX: process.env['BENCH_INGEST_BATCH_MAX'] } : {}),
  }, false);
}

async function waitReady(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error('evosync never became ready');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One round: a raw run, evosync's run of the same events, another raw run. */
interface AmqpRound {
  evosyncPerSecond: number;
  raw: [before: number, after: number];
  cpu: AmqpIngestFigures['cpu'];
}

/**
 * RabbitMQ → ledger, in `rounds` rounds (median reported): the same `n` messages.upsert events are
 * queued (confirmed) twice — once for a plain amqplib consumer (parse + ack, prefetch 500), once for
 * evosync (the built service in its own process, Chatwoot unreachable so delivery is paused) — and
 * both drain a pre-loaded quorum queue. Each round's events are new to the ledger. Then memory:
 * evosync's peak RSS while `memoryN` events arrive and pile up in its ledger.
 *
 * Rounds, because a single one swung between 43% and 62% of the plain rate on the same code: the
 * machine is shared, and a minute of a neighbour's load lands on one side of the ratio.
 */
export async function benchAmqpIngest(backend: 'sqlite' | 'postgres', databaseUrl: string, memoryDatabaseUrl: string | null, amqpUrl: string, n: number, memoryN: number, rounds = 3): Promise<AmqpIngestFigures> {
  const done: AmqpRound[] = [];
  for (let r = 0; r < rounds; r++) done.push(await amqpRound(databaseUrl, amqpUrl, n, r));
  const ratio = (x: AmqpRound) => x.evosyncPerSecond / ((x.raw[0] + x.raw[1]) / 2);
  const median = [...done].sort((a, b) => ratio(a) - ratio(b))[Math.floor(done.length / 2)] as AmqpRound;
  const rss = memoryDatabaseUrl && memoryN > 0 ? await amqpBacklogRss(memoryDatabaseUrl, amqpUrl, memoryN) : null;
  return {
    backend, messages: n, evosyncPerSecond: median.evosyncPerSecond, rawPerSecond: (median.raw[0] + median.raw[1]) / 2, rawRuns: median.raw,
    roundRatios: done.map(ratio), peakRssMiB: rss, memoryMessages: memoryN, cpu: median.cpu,
  };
}

async function amqpRound(databaseUrl: string, amqpUrl: string, n: number, round: number): Promise<AmqpRound> {
  const id = randomBytes(4).toString('hex');
  const instance = `bench_${id}`;
  const rawQueue = `bench.raw.${id}`;
  const queue = `bench.evosync.${id}`;
  const conn = await amqp.connect(amqpUrl);
  // Ids of their own per round: events a ledger already holds are cheaper (duplicates).
  const bodies = Array.from({ length: n }, (_, i) => upsertEnvelope(instance, round * n + i, 200));
  const port = await freePort();
  let evo: Awaited<ReturnType<typeof startChild>> | null = null;
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange(instance, 'topic', EXCHANGE_OPTS);
    await ch.assertQueue(rawQueue, QUORUM);
    const rawRun = async () => {
      await ch.bindQueue(rawQueue, instance, 'messages.upsert');
      await publishConfirmed(conn, instance, bodies);
      await ch.unbindQueue(rawQueue, instance, 'messages.upsert');
      return rawConsume(conn, rawQueue, n);
    };
    const raw = await rawRun();

    // evosync declares and binds its queue, stops; the same events are queued; it starts and drains.
    evo = await startEvosync(databaseUrl, amqpUrl, instance, queue, port);
    await waitReady(port);
    await stopChild(evo.child);
    await publishConfirmed(conn, instance, bodies);
    evo = await startEvosync(databaseUrl, amqpUrl, instance, queue, port);
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    const trace = new CpuTrace({ evosync: evo.child.pid, broker: brokerPid() });
    try {
      await waitAcked(conn, queue, port, n, 300_000);
    } finally {
      trace.stop();
    }
    await stopChild(evo.child);
    evo = null;
    const steady = steadyStretch(trace, await committedAt(databaseUrl, instance));
    if (!steady) throw new Error('RabbitMQ ingest: no steady stretch in the CPU trace');
    const evosyncCpu = steady.cpu['evosync'] ?? null;
    const brokerCpu = steady.cpu['broker'] ?? null;
    await ch.unbindQueue(queue, instance, 'messages.upsert');
    const rawAfter = await rawRun();
    await ch.deleteQueue(rawQueue);
    await ch.deleteQueue(queue);
    await ch.deleteExchange(instance);
    return {
      evosyncPerSecond: steady.perSecond, raw: [raw.perSecond, rawAfter.perSecond],
      cpu: { evosync: evosyncCpu, brokerUs: brokerCpu ? brokerCpu.mainUs + brokerCpu.othersUs : null, rawConsumerUs: (raw.consumerUs + rawAfter.consumerUs) / 2, rawBrokerUs: raw.brokerUs !== null && rawAfter.brokerUs !== null ? (raw.brokerUs + rawAfter.brokerUs) / 2 : null },
    };
  } finally {
    if (evo) await stopChild(evo.child);
    await conn.close().catch(() => undefined);
  }
}

/** evosync's peak RSS while `memoryN` events arrive and pile up in its ledger (Chatwoot down). */
async function amqpBacklogRss(databaseUrl: string, amqpUrl: string, memoryN: number): Promise<number | null> {
  const id = randomBytes(4).toString('hex');
  const instance = `bench_${id}`;
  const queue = `bench.memory.${id}`;
  const conn = await amqp.connect(amqpUrl);
  const port = await freePort();
  let evo: Awaited<ReturnType<typeof startChild>> | null = null;
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange(instance, 'topic', EXCHANGE_OPTS);
    evo = await startEvosync(databaseUrl, amqpUrl, instance, queue, port);
    await waitReady(port);
    const memBodies = Array.from({ length: memoryN }, (_, i) => upsertEnvelope(instance, i, 1000));
    await publishConfirmed(conn, instance, memBodies);
    await waitAcked(conn, queue, port, memoryN, 600_000);
    const rss = await peakRssMiB(evo.child.pid ?? 0);
    await stopChild(evo.child);
    evo = null;
    await ch.deleteQueue(queue);
    await ch.deleteExchange(instance);
    return rss;
  } finally {
    if (evo) await stopChild(evo.child);
    await conn.close().catch(() => undefined);
  }
}
