import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type { Channel, ChannelModel } from 'amqplib';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { AMQP_URL } from '../helpers/services.js';

export const uid = (): string => randomBytes(4).toString('hex');

/** evosync in this process, RabbitMQ ingest on, Chatwoot unreachable (delivery paused). */
export async function startEvosync(env: Record<string, string>): Promise<Evosync> {
  const config = loadConfig({
    CHATWOOT_URL: 'http://127.0.0.1:9',
    CHATWOOT_API_TOKEN: 'x',
    CHATWOOT_ACCOUNT_ID: '1',
    CHATWOOT_INBOX_ID: '1',
    EVOSYNC_WEBHOOK_TOKEN: 'amqp-test-webhook-token-0123',
    EVOSYNC_HOST: '127.0.0.1',
    EVOSYNC_PORT: '0',
    EVOSYNC_AMQP_URL: AMQP_URL,
    EVOSYNC_SHUTDOWN_GRACE_MS: '2000',
    ...env,
  });
  return createEvosync(config, { logger: createLogger(process.env['EVOSYNC_TEST_LOG'] ?? 'silent') });
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A test's own broker handle: remembers what to delete, and probes on throwaway channels. */
export class Broker {
  conn!: ChannelModel;
  ch!: Channel;
  readonly queues = new Set<string>();
  readonly exchanges = new Set<string>();

  async open(url = AMQP_URL): Promise<this> {
    this.conn = await amqp.connect(url);
    this.ch = await this.conn.createChannel();
    this.ch.on('error', () => undefined);
    return this;
  }

  /** Passive declare on its own channel (a 404 closes the channel): null when the queue is absent. */
  async queueInfo(queue: string): Promise<{ messageCount: number; consumerCount: number } | null> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    try {
      const q = await ch.checkQueue(queue);
      await ch.close();
      return q;
    } catch {
      return null;
    }
  }

  /** Broker error code of a declaration, or null when it succeeds (run on its own channel). */
  async declareError(fn: (ch: Channel) => Promise<unknown>): Promise<number | null> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    try {
      await fn(ch);
      await ch.close();
      return null;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  }

  publish(exchange: string, routingKey: string, body: string | object): void {
    this.ch.publish(exchange, routingKey, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
  }

  async cleanup(): Promise<void> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    for (const q of this.queues) await ch.deleteQueue(q).catch(() => undefined);
    for (const x of this.exchanges) await ch.deleteExchange(x).catch(() => undefined);
    await this.conn.close().catch(() => undefined);
  }
}

/** A messages.upsert envelope as Evolution publishes it (text message, 1:1 chat). */
export function upsert(instance: string, id: string, chat = 5511900000001, ts = 1_760_000_000): object {
  return {
    event: 'messages.upsert',
    instance,
    data: {
      key: { remoteJid: `${chat}@s.whatsapp.net`, fromMe: false, id },
      pushName: 'Customer',
      status: 'DELIVERY_ACK',
      message: { conversation: `hello ${id}` },
      messageType: 'conversation',
      messageTimestamp: ts,
      instanceId: 'c1a2b3c4-d5e6-7f80-9a0b-1c2d3e4f5a6b',
      source: 'android',
    },
    server_url: 'https://evo.example.com',
    date_time: '2025-10-21T11:40:39.000Z',
    sender: '5511900001111@s.whatsapp.net',
    apikey: null,
  };
}
