import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../lib/logger.js';
import { chatwootWebhook, type ChatwootWebhookOptions } from '../ingest/chatwoot-webhook.js';
import { evolutionWebhook } from '../ingest/evolution-webhook.js';
import type { Intake } from '../ingest/intake.js';
import type { Ledger } from '../ledger/ledger.js';
import { requireApiToken } from './api-auth.js';

/** Body limit of every route that does not set its own: the operator API and dashboard forms. */
export const SMALL_BODY_BYTES = 64 * 1024;

export interface ServerDeps {
  intake: Intake;
  ledger: Ledger;
  logger: Logger;
  webhookToken: string | null;
  /** Largest Evolution webhook body (EVOSYNC_MAX_BODY_BYTES); every other route takes far less. */
  maxBodyBytes: number;
  /** Bearer token of /api/* (EVOSYNC_API_TOKEN); null = those routes answer 401. */
  apiToken: string | null;
  isShuttingDown(): boolean;
  /** Readiness: null when ready, else what is not. */
  readiness(): Promise<string | null>;
  /** What works, but less well (Redis away): ready all the same (200), and says so. */
  degraded?: () => string[];
  stats(): Promise<Record<string, unknown>>;
  /** `POST /webhooks/chatwoot` (agent replies); absent = no such route. */
  chatwoot?: Pick<ChatwootWebhookOptions, 'config' | 'clock' | 'notify'>;
  /** Further routes (the operator API), registered with the same body parsing. */
  register?: (app: FastifyInstance) => void;
}

/** Builds the HTTP app without listening (tests use `inject`; only the service calls listen). */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Webhook routes set their own limits; the API and the dashboard's forms need a few KB.
    bodyLimit: SMALL_BODY_BYTES,
    // Webhook bodies are kept verbatim when refused, so they are read as text and parsed by us.
    return503OnClosing: true,
  });
  app.setErrorHandler(async (error: FastifyError, req, reply) => {
    const status = error.statusCode ?? 500;
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'PAYLOAD_TOO_LARGE', message: `request body is over the limit of ${req.routeOptions.bodyLimit ?? SMALL_BODY_BYTES} bytes` });
    // Fastify's own 4xx (a malformed request) say only what was wrong with the request.
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.code || 'BAD_REQUEST', message: error.message });
    // Anything else is a fault of ours whose message may name a URL, a query or an upstream's
    // answer: logged (redacted), never sent to the caller.
    req.log.error({ err: error, route: req.routeOptions.url }, 'request failed');
    return reply.code(500).send({ error: 'INTERNAL_ERROR', message: 'internal error; see the evosync log' });
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  evolutionWebhook(app, { intake: deps.intake, token: deps.webhookToken, maxBodyBytes: deps.maxBodyBytes, isShuttingDown: deps.isShuttingDown });
  if (deps.chatwoot) chatwootWebhook(app, { ...deps.chatwoot, intake: deps.intake, ledger: deps.ledger, isShuttingDown: deps.isShuttingDown });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (deps.isShuttingDown()) return reply.code(503).send({ status: 'shutting_down' });
    const problem = await deps.readiness();
    if (problem) return reply.code(503).send({ status: 'not_ready', problem });
    const degraded = deps.degraded?.() ?? [];
    return degraded.length > 0 ? { status: 'degraded', degraded } : { status: 'ready' };
  });
  // Not open: it names hosts, upstream URLs and error texts, which tell an outsider where to aim.
  app.get('/api/stats', { preHandler: requireApiToken(deps.apiToken) }, async () => deps.stats());
  deps.register?.(app);
  return app;
}
