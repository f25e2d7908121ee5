import type { FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual } from '../ingest/token.js';

/**
 * Bearer-token guard of the operator API. With no token configured every call is refused: an
 * operator endpoint that writes to the ledger must never be open by default.
 */
export function requireApiToken(token: string | null) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const auth = req.headers.authorization;
    const presented = typeof auth === 'string' && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, '').trim() : null;
    if (!token || !presented || !safeEqual(presented, token)) {
      await reply.code(401).send({ error: 'API_TOKEN_INVALID', message: token ? 'missing or wrong bearer token' : 'EVOSYNC_API_TOKEN is not set; the operator API is refused' });
    }
  };
}
