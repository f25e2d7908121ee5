/**
 * EventManager.emit(): one event through the transports, one after another, each awaited, in
 * Evolution's order (websocket → rabbitmq → nats → sqs → webhook → …). Only RabbitMQ and the
 * webhook exist here; RabbitMQ therefore never waits for a slow webhook, while the global webhook
 * does wait for the instance webhook's retries, as in Evolution.
 */
import { envelopeDateTime, type EmitData } from './events.js';
import type { InstanceState } from './instances.js';
import type { RabbitStats, RabbitTransport } from './rabbitmq.js';
import { emptyDeliveryStats, type DeliveryStats, type GlobalWebhook, type WebhookTransport } from './webhook.js';

export interface EmitStats {
  webhook: DeliveryStats;
  rabbit: RabbitStats;
}

export const emptyEmitStats = (): EmitStats => ({ webhook: emptyDeliveryStats(), rabbit: { published: 0, dropped: 0 } });

export class Dispatcher {
  rabbit: RabbitTransport | null = null;
  globalWebhook: GlobalWebhook | null = null;

  constructor(
    readonly webhook: WebhookTransport,
    private readonly env: { serverUrl: string; exposeApiKey: boolean; clock: () => number },
  ) {}

  /** sendDataWebhook(): build the envelope fields once, then hand them to each transport. */
  async emit(inst: InstanceState, event: string, data: unknown, stats: EmitStats = emptyEmitStats()): Promise<EmitStats> {
    const ed: EmitData = {
      instanceName: inst.name,
      event,
      data,
      serverUrl: this.env.serverUrl,
      dateTime: envelopeDateTime(this.env.clock()),
      sender: inst.wuid,
      apiKey: this.env.exposeApiKey ? inst.token : null,
    };
    this.rabbit?.emit(ed, inst.rabbitmq, stats.rabbit);
    await this.webhook.emit(ed, inst.webhook, this.globalWebhook, stats.webhook);
    return stats;
  }

  /** Let the broker catch up with what was written (see RabbitTransport.flush). */
  async flush(): Promise<void> {
    await this.rabbit?.flush();
  }
}
