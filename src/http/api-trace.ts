import type { FastifyInstance } from 'fastify';
import { type TraceDeps, traceMessage } from '../trace/trace.js';
import { requireApiToken } from './api-auth.js';

/**
 * `GET /api/trace/:id`: a message's history across the ledger, Chatwoot and Evolution (the same
 * service function as `evosync trace`). 404 when the ledger does not know the id.
 */
export function traceApi(app: FastifyInstance, deps: TraceDeps & { apiToken: string | null }): void {
  app.get('/api/trace/:id', { preHandler: requireApiToken(deps.apiToken) }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (id.length > 256) return reply.code(400).send({ error: 'TRACE_INPUT_INVALID', message: 'id is longer than 256 characters' });
    const result = await traceMessage(deps, id);
    return reply.code(result.traces.length > 0 ? 200 : 404).send(result);
  });
}
