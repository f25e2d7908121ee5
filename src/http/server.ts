import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../lib/logger.js';
import { chatwootWebhook, type ChatwootWebhookOptions } from '../ingest/chatwoot-webhook.js';
import { evolutionWebhook } from '../ingest/evolution-webhook.js';
import type { Intake } from '../ingest/intake.js';
import type { Ledger } from '../ledger/ledger.js';

export interface ServerDeps {
  intake: Intake;
  ledger: Ledger;
  logger: Logger;
  webhookToken: string | null;
  maxBodyBytes: number;
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
    bodyLimit: deps.maxBodyBytes,
    // Webhook bodies are kept verbatim when refused, so they are read as text and parsed by us.
    return503OnClosing: true,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  evolutionWebhook(app, { intake: deps.intake, token: deps.webhookToken, isShuttingDown: deps.isShuttingDown });
  if (deps.chatwoot) chatwootWebhook(app, { ...deps.chatwoot, intake: deps.intake, ledger: deps.ledger, isShuttingDown: deps.isShuttingDown });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (deps.isShuttingDown()) return reply.code(503).send({ status: 'shutting_down' });
    const problem = await deps.readiness();
    if (problem) return reply.code(503).send({ status: 'not_ready', problem });
    const degraded = deps.degraded?.() ?? [];
    return degraded.length > 0 ? { status: 'degraded', degraded } : { status: 'ready' };
  });
  app.get('/api/stats', async () => deps.stats());
  deps.register?.(app);
  return app;
}
