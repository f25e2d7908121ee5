import { Pool } from 'undici';

/**
 * Posts bodies to a URL with a fixed number of requests in flight over keep-alive connections,
 * the way Evolution's fire-and-forget webhook sender loads a receiver. Returns messages per second.
 */
export async function postAll(url: string, bodies: string[], opts: { concurrency: number; headers?: Record<string, string> }): Promise<{ perSecond: number; seconds: number; failures: number }> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: opts.concurrency, keepAliveTimeout: 10_000 });
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++] as string;
      try {
        const r = await pool.request({ method: 'POST', path: u.pathname + u.search, headers: { 'content-type': 'application/json', ...opts.headers }, body });
        await r.body.dump();
        if (r.statusCode !== 200) failures += 1;
      } catch {
        failures += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  return { perSecond: bodies.length / seconds, seconds, failures };
}
