import type { FastifyInstance } from 'fastify';

export interface MetricsRouteDeps {
  expose(): Promise<{ contentType: string; body: string }>;
}

/**
 * `GET /metrics`: Prometheus text exposition. No token: it shows counts, states and durations,
 * never message content, chat ids or credentials, and scrapers are usually configured without one.
 */
export function metricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await deps.expose();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
