import { type ClientRequest, request } from 'node:http';
import { until } from './lifecycle.js';

export interface SseEvent {
  event: string;
  data: string;
  /** When it arrived (Date.now()). */
  at: number;
}

/**
 * A Server-Sent Events reader over a plain HTTP request (what a browser's EventSource does, minus
 * the reconnects), so a test sees every event, comment and the stream's end as they happen.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  ended = false;
  #req: ClientRequest | null = null;
  #buffer = '';

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const c = new SseClient();
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        c.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => c.#read(chunk));
        res.on('end', () => (c.ended = true));
        res.on('close', () => (c.ended = true));
        resolve();
      });
      req.on('error', (error) => {
        c.ended = true;
        reject(error);
      });
      req.end();
      c.#req = req;
    });
    return c;
  }

  /** The first event of this name (after `after` events) that `match` accepts, waiting for it. */
  waitFor(event: string, match: (data: unknown) => boolean = () => true, timeoutMs = 10_000, after = 0): Promise<SseEvent> {
    return until(`an SSE "${event}" event`, () => this.events.slice(after).find((e) => e.event === event && match(JSON.parse(e.data))), timeoutMs, 20);
  }

  close(): void {
    this.#req?.destroy();
  }

  #read(chunk: string): void {
    this.#buffer += chunk;
    for (let end = this.#buffer.indexOf('\n\n'); end >= 0; end = this.#buffer.indexOf('\n\n')) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trim());
      }
      if (data.length > 0) this.events.push({ event, data: data.join('\n'), at: Date.now() });
    }
  }
}
