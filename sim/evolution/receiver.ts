/**
 * A tiny webhook receiver for tests and demos: records every request (path, headers, parsed JSON
 * body) and answers with a status chosen per request, so a test can script failures (e.g. 500,
 * 500, then 200) and observe Evolution-style retries.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  raw: string;
  /** 1-based arrival number. */
  n: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Resolve once `count` recorded requests satisfy `pred` (rejects after timeoutMs). */
  waitFor(pred: (r: Received) => boolean, count?: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export type Responder = (req: Received) => number | { status: number; delayMs?: number };

export async function startReceiver(respond: Responder = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => unknown>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // keep the raw text
      }
      const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, raw, n: received.length + 1 };
      received.push(r);
      for (const w of [...waiters]) w();
      const answer = respond(r);
      const { status, delayMs } = typeof answer === 'number' ? { status: answer, delayMs: 0 } : answer;
      const finish = (): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{}');
      };
      if (delayMs) setTimeout(finish, delayMs);
      else finish();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    waitFor(pred, count = 1, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hits = received.filter(pred);
          if (hits.length < count) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hits);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: ${received.filter(pred).length}/${count} matching requests after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
