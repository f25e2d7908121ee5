import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../lib/clock.js';
import { ReconcileError, type ReconcileErrorCode } from '../reconcile/errors.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import { parseChat, parseSince } from '../reconcile/since.js';
import { requireApiToken } from './api-auth.js';

const Body = z
  .object({
    instance: z.string().min(1).max(200),
    /** Look-back in milliseconds. */
    sinceMs: z.number().int().positive().optional(),
    /** Look-back like "2h", or an ISO date-time. */
    since: z.string().min(1).max(64).optional(),
    chat: z.string().min(1).max(256).optional(),
  })
  .strict()
  .refine((b) => !(b.sinceMs !== undefined && b.since !== undefined), 'give sinceMs or since, not both');

const STATUS: Record<ReconcileErrorCode, number> = {
  RECONCILE_NOT_CONFIGURED: 503,
  RECONCILE_BUSY: 409,
  RECONCILE_INPUT_INVALID: 400,
  RECONCILE_STOPPED: 503,
  EVOLUTION_FAILED: 502,
  CHATWOOT_FAILED: 502,
};

export interface ReconcileApiDeps {
  reconciler: Reconciler;
  apiToken: string | null;
  clock: Clock;
  /** Look-back when the body names none. */
  defaultWindowMs: number;
}

/**
 * `POST /api/reconcile` runs one WhatsApp → Chatwoot reconcile and answers with its record once it
 * is done (the repaired messages are committed by then; their delivery follows in their lanes).
 * `GET /api/reconcile/runs` lists recorded runs.
 */
export function reconcileApi(app: FastifyInstance, deps: ReconcileApiDeps): void {
  const guard = requireApiToken(deps.apiToken);
  app.post('/api/reconcile', { preHandler: guard }, async (req, reply) => {
    let body: z.infer<typeof Body>;
    try {
      const parsed = Body.safeParse(JSON.parse(typeof req.body === 'string' ? req.body : ''));
      if (!parsed.success) return reply.code(400).send({ error: 'RECONCILE_INPUT_INVALID', message: parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') });
      body = parsed.data;
    } catch {
      return reply.code(400).send({ error: 'PAYLOAD_NOT_JSON', message: 'request body is not valid JSON' });
    }
    try {
      const now = deps.clock.now();
      const fromMs = body.since !== undefined ? parseSince(body.since, now) : now - (body.sinceMs ?? deps.defaultWindowMs);
      const chat = body.chat !== undefined ? parseChat(body.chat) : null;
      const run = await deps.reconciler.run({ instance: body.instance, fromMs, toMs: now, chat, trigger: 'api' });
      return reply.code(run.error ? 502 : 200).send(run);
    } catch (error) {
      if (error instanceof ReconcileError) return reply.code(STATUS[error.code]).send({ error: error.code, message: error.message });
      throw error;
    }
  });
  app.get('/api/reconcile/runs', { preHandler: guard }, async (req) => {
    const q = req.query as { instance?: string; limit?: string };
    const limit = Math.min(Math.max(Number(q.limit ?? 50) || 50, 1), 1000);
    return { runs: await deps.reconciler.runs(q.instance ?? null, limit) };
  });
}
