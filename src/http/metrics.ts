import type { FastifyInstance } from 'fastify';
import { safeEqual } from '../ingest/token.js';

export interface MetricsRouteDeps {
  expose(): Promise<{ contentType: string; body: string }>;
  /** EVOSYNC_METRICS_TOKEN; null = no token asked. */
  token: string | null;
}

/**
 * `GET /metrics`: Prometheus text exposition. It shows counts, states, durations and instance
 * names, never message content, chat ids or credentials, so by default it asks no token (scrapers
 * usually have none); with EVOSYNC_METRICS_TOKEN set, the scraper must send it as a bearer token.
 */
export function metricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  const token = deps.token;
  app.get('/metrics', async (req, reply) => {
    if (token) {
      const auth = req.headers.authorization;
      const presented = typeof auth === 'string' && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, '').trim() : '';
      if (!safeEqual(presented, token)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'METRICS_TOKEN_INVALID', message: 'missing or wrong bearer token (EVOSYNC_METRICS_TOKEN)' });
    }
    const { contentType, body } = await deps.expose();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
