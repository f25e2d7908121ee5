import type { Channel } from 'amqplib';
import type { AmqpConfig } from '../config/config.js';

/**
 * Evolution declares its exchanges `topic`, `durable: true, autoDelete: false` (reference §1.3).
 * evosync asserts them with exactly these arguments: an exchange declared first by evosync is then
 * one Evolution can re-declare without PRECONDITION_FAILED, and binding works before Evolution
 * ever published (an instance exchange only exists once Evolution has published to it).
 */
export const EVOLUTION_EXCHANGE_OPTIONS = { durable: true, autoDelete: false } as const;

export interface Topology {
  exchanges: readonly string[];
  queue: string;
  queueArguments: Record<string, unknown>;
  bindings: readonly { exchange: string; routingKey: string }[];
}

/**
 * evosync's own queue and its bindings. Never one of Evolution's queue names (`<instance>.<event>`,
 * `<prefix>.<event>`): re-declaring those with other arguments breaks Evolution's publisher.
 *
 * No `x-delivery-limit`: a limit turns repeated redeliveries into dropped messages, and evosync never
 * needs the broker to give up on a message — poison input is stored as refused and acked, and a
 * failed commit is retried while the delivery stays unacked (see amqp-consumer.ts). RabbitMQ 4.0+
 * defaults quorum queues to 20 deliveries; an operator policy can change it without a re-declare.
 */
export function topologyFor(c: Pick<AmqpConfig, 'exchanges' | 'queue' | 'queueType' | 'events'>): Topology {
  return {
    exchanges: c.exchanges,
    queue: c.queue,
    queueArguments: { 'x-queue-type': c.queueType },
    bindings: c.exchanges.flatMap((exchange) => c.events.map((routingKey) => ({ exchange, routingKey }))),
  };
}

/** Idempotent: run on every (re)connect and after the queue was deleted under a live consumer. */
export async function declareTopology(ch: Channel, t: Topology): Promise<void> {
  for (const x of t.exchanges) await ch.assertExchange(x, 'topic', EVOLUTION_EXCHANGE_OPTIONS);
  await ch.assertQueue(t.queue, { durable: true, autoDelete: false, exclusive: false, arguments: t.queueArguments });
  for (const b of t.bindings) await ch.bindQueue(t.queue, b.exchange, b.routingKey);
}
