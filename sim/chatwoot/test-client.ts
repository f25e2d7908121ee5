/**
 * Minimal HTTP client for tests that talk to the fake over real sockets (global fetch/undici),
 * plus a throwaway webhook receiver. Kept beside the fake so every suite shares one way of
 * calling it.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SimResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
}

export interface RequestOptions {
  /** undefined → the client's default token; null → no token header at all. */
  token?: string | null;
  headers?: Record<string, string>;
}

export interface SimClient {
  /** `path` starting with "/" is absolute; otherwise it is under /api/v1/accounts/{accountId}/. */
  request(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<SimResponse>;
  get(path: string, opts?: RequestOptions): Promise<SimResponse>;
  post(path: string, body?: unknown, opts?: RequestOptions): Promise<SimResponse>;
  patch(path: string, body?: unknown, opts?: RequestOptions): Promise<SimResponse>;
  put(path: string, body?: unknown, opts?: RequestOptions): Promise<SimResponse>;
  delete(path: string, opts?: RequestOptions): Promise<SimResponse>;
}

export function simClient(sim: { url: string; accountId: number; token: string }): SimClient {
  const request = async (method: string, path: string, body?: unknown, opts: RequestOptions = {}) => {
    const url = path.startsWith('/') ? `${sim.url}${path}` : `${sim.url}/api/v1/accounts/${sim.accountId}/${path}`;
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? sim.token : opts.token;
    if (token !== null) headers.api_access_token = token;
    let payload: string | FormData | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(url, { method, headers, body: payload, redirect: 'manual' });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    request,
    get: (p, o) => request('GET', p, undefined, o),
    post: (p, b, o) => request('POST', p, b, o),
    patch: (p, b, o) => request('PATCH', p, b, o),
    put: (p, b, o) => request('PUT', p, b, o),
    delete: (p, o) => request('DELETE', p, undefined, o),
  };
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Status code to answer with (default 200); may be changed at any time. */
  respondWith: number;
  /** Delay before answering, in ms (default 0). */
  delayMs: number;
  /** Resolves when `predicate` holds for the received list (polls), or rejects after `timeoutMs`. */
  waitFor(predicate: (all: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    received,
    respondWith: 200,
    delayMs: 0,
    waitFor: async (predicate, timeoutMs = 3_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`webhook condition not met; got ${received.length} deliveries`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      received.push({ headers: req.headers, rawBody, body, receivedAt: Date.now() });
      const answer = (): void => {
        res.statusCode = receiver.respondWith;
        res.end('ok');
      };
      if (receiver.delayMs > 0) setTimeout(answer, receiver.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chatwoot`;
  return receiver;
}
