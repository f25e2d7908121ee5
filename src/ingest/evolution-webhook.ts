import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { coerceError } from '../errors.js';
import { jsonDeeperThan, jsonErrorReason, MAX_JSON_DEPTH } from '../lib/json-guard.js';
import { normalizeEnvelope } from '../evolution/normalize.js';
import type { Intake } from './intake.js';
import { presentedToken, tokenMatcher } from './token.js';

export interface EvolutionWebhookOptions {
  intake: Intake;
  token: string | null;
  /** Largest body accepted (EVOSYNC_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  isShuttingDown(): boolean;
}

interface Params {
  event?: string;
  token?: string;
}

/**
 * `POST /webhooks/evolution` (and `/:event` for Evolution's by-events mode, and the `/t/<token>`
 * forms for the global webhook). The answer is 2xx only once the event is committed to the
 * ledger; a 5xx makes Evolution retry; a 4xx tells it (and the operator) the input is wrong, and
 * that input is kept with its reason.
 */
export function evolutionWebhook(app: FastifyInstance, opts: EvolutionWebhookOptions): void {
  const matches = opts.token ? tokenMatcher(opts.token) : () => false;
  const handler = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    if (opts.isShuttingDown()) {
      return reply.code(503).header('connection', 'close').send({ error: 'SHUTTING_DOWN', message: 'evosync is shutting down; retry later' });
    }
    const token = presentedToken(req.headers as Record<string, unknown>, req.query as Record<string, unknown>, req.params.token);
    if (!opts.token || !token || !matches(token)) {
      // Not stored: an unauthenticated caller must not be able to fill the ledger.
      return reply.code(401).send({ error: 'WEBHOOK_TOKEN_INVALID', message: opts.token ? 'missing or wrong webhook token' : 'EVOSYNC_WEBHOOK_TOKEN is not set; webhooks are refused' });
    }
    const raw = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    if (jsonDeeperThan(raw, MAX_JSON_DEPTH)) {
      const reason = `body nests deeper than ${MAX_JSON_DEPTH} levels`;
      await opts.intake.refuse({ source: 'webhook', code: 'PAYLOAD_TOO_DEEP', reason, instance: null, event: req.params.event ?? null, body: raw });
      return reply.code(400).send({ error: 'PAYLOAD_TOO_DEEP', message: reason });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (error) {
      await opts.intake.refuse({ source: 'webhook', code: 'PAYLOAD_NOT_JSON', reason: `body is not JSON: ${jsonErrorReason(error)}`, instance: null, event: req.params.event ?? null, body: raw });
      return reply.code(400).send({ error: 'PAYLOAD_NOT_JSON', message: 'request body is not valid JSON' });
    }
    try {
      const normalized = normalizeEnvelope(body, { pathEvent: req.params.event });
      const result = await opts.intake.accept(normalized, 'webhook', raw);
      if (result.status === 'refused') return reply.code(400).send({ error: result.code, message: result.reason });
      if (result.status === 'ignored') return reply.code(200).send({ ignored: true, code: result.code, reason: result.reason });
      return reply.code(200).send({ accepted: result.inserted, duplicates: result.duplicates, skipped: result.skipped });
    } catch (error) {
      req.log.error({ err: coerceError(error) }, 'could not commit webhook event');
      return reply.code(503).send({ error: 'LEDGER_UNAVAILABLE', message: 'event not stored; retry' });
    }
  };

  /**
   * A body over the limit is cut off by Fastify before the handler runs. From a caller holding the
   * token it is kept as refused (reason and size, not the body, which was never read); from anyone
   * else it is only answered, so nobody without the token can write to the ledger.
   */
  const errorHandler = async (error: FastifyError, req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    if (error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw error;
    const token = presentedToken(req.headers as Record<string, unknown>, req.query as Record<string, unknown>, req.params.token);
    const reason = `body of ${bodySize(req)} is over the limit of ${opts.maxBodyBytes} bytes (EVOSYNC_MAX_BODY_BYTES)`;
    if (opts.token && token && matches(token)) {
      await opts.intake.refuse({ source: 'webhook', code: 'PAYLOAD_TOO_LARGE', reason, instance: null, event: req.params.event ?? null, body: '' });
    }
    return reply.code(413).send({ error: 'PAYLOAD_TOO_LARGE', message: reason });
  };
  const route = { bodyLimit: opts.maxBodyBytes, errorHandler };
  app.post('/webhooks/evolution', route, handler);
  app.post('/webhooks/evolution/:event', route, handler);
  app.post('/webhooks/evolution/t/:token', route, handler);
  app.post('/webhooks/evolution/t/:token/:event', route, handler);
}

/** The size a too-large request declared, for the refusal's reason (chunked bodies declare none). */
export function bodySize(req: FastifyRequest): string {
  const n = Number(req.headers['content-length']);
  return Number.isSafeInteger(n) && n > 0 ? `${n} bytes` : 'unknown length';
}
