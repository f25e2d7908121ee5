import { request } from 'undici';
import { alertPayload } from './format.js';
import type { AlertEvent } from './kinds.js';
import type { AlertSink } from './sink.js';

/**
 * POSTs each alert as JSON to EVOSYNC_ALERT_WEBHOOK_URL. The URL is a secret (a Slack webhook URL
 * is its own credential), so no error this raises names it.
 */
export class WebhookSink implements AlertSink {
  readonly name = 'webhook' as const;
  readonly #url: string;
  readonly #host: string;

  constructor(url: string, host: string) {
    this.#url = url;
    this.#host = host;
  }

  async send(event: AlertEvent, signal: AbortSignal): Promise<void> {
    let res;
    try {
      res = await request(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'evosync-alerts' },
        body: JSON.stringify(alertPayload(event, this.#host)),
        signal,
      });
    } catch (error) {
      const e = error as { code?: string; name?: string };
      throw new Error(`alert webhook unreachable (${e.code ?? e.name ?? 'error'})`);
    }
    // Read (and drop) the body so the connection is reused; its text may echo the URL's token.
    await res.body.dump().catch(() => {});
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`alert webhook answered HTTP ${res.statusCode}`);
  }

  async close(): Promise<void> {}
}
