/**
 * Assembles the fake Chatwoot: store + seed, Fastify with Rails-like body parsing, the request
 * pipeline (stats → outage → Rack::Attack → latency → injected 5xx → hang decision), the API
 * routes, webhook delivery and the in-process control surface.
 */
import type { Socket } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createRandom } from '../shared/random.js';
import { API_PREFIX, type ApiDeps, type RequestFlags } from './api.js';
import { FilePart } from './attachments.js';
import { installBodyParsers } from './body.js';
import { createIdSource } from './coerce.js';
import type { DomainEvent, SimContext } from './context.js';
import { HttpError, internalError } from './errors.js';
import { createMessage } from './messages.js';
import { registerContactRoutes } from './routes-contacts.js';
import { registerConversationRoutes } from './routes-conversations.js';
import { registerInboxRoutes } from './routes-inboxes.js';
import { registerMessageRoutes } from './routes-messages.js';
import { registerSimRoutes, sanitizeFaults } from './routes-sim.js';
import { seedStore } from './seed.js';
import { Store } from './store.js';
import { RateLimiter, Stats } from './traffic.js';
import type { ChatwootFaults, ChatwootSim, ChatwootSimOptions } from './types.js';
import { messageJson } from './views.js';
import { WebhookDispatcher } from './webhooks.js';

const DEFAULT_FAULTS: ChatwootFaults = {
  errorRate: 0,
  timeoutAfterCommitRate: 0,
  hangMs: 30_000,
  latencyMs: 0,
  outage: false,
  webhookDuplicateRate: 0,
  webhookShuffle: false,
  rateLimits: false,
};

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BODY_LIMIT = 256 * 1024 * 1024; // API inboxes have no size check; nginx ships client_max_body_size 0

const GATEWAY_PAGES: Record<number, string> = {
  502: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
  503: '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
};

export async function createChatwootSim(opts: ChatwootSimOptions = {}): Promise<ChatwootSim> {
  const seed = opts.seed ?? 1;
  const clock = opts.clock ?? Date.now;
  const accountId = opts.accountId ?? 1;
  // Independent streams, so e.g. generating a uuid never shifts the fault schedule.
  const ids = createIdSource(createRandom(seed));
  const faultRng = createRandom((seed ^ 0x5bd1e995) >>> 0);
  const webhookRng = createRandom((seed + 0x9e3779b9) >>> 0);

  const store = new Store();
  const seeded = seedStore(store, ids, { accountId, secret: opts.secret ?? null, now: clock() });
  let faults: ChatwootFaults = { ...DEFAULT_FAULTS, rateLimits: opts.rateLimits ?? false };
  let baseUrl = '';
  let dispatcher: WebhookDispatcher | null = null;
  const ctx: SimContext = {
    store,
    ids,
    now: clock,
    emit: (e: DomainEvent) => dispatcher?.enqueue(e),
    baseUrl: () => baseUrl,
    storageUrl: () => {
      if (!opts.storageHost) return baseUrl;
      const u = new URL(baseUrl);
      u.hostname = opts.storageHost;
      return u.origin;
    },
    messagesPerMinuteLimit: opts.conversationMessagePerMinuteLimit ?? 200,
  };
  dispatcher = new WebhookDispatcher(ctx, webhookRng, opts.webhookTimeoutMs ?? 5_000, () => faults);

  const stats = new Stats();
  // Always built, switched by faults.rateLimits (like every other fault): counting only while on.
  const limiter = new RateLimiter({
    perIpPerMinute: opts.requestsPerMinute ?? 3000,
    searchPerAccountPerMinute: opts.searchRequestsPerMinute ?? 100,
    clock,
  });
  const flags = new WeakMap<object, RequestFlags>();
  const flagsOf = (req: FastifyRequest): RequestFlags => {
    let f = flags.get(req.raw);
    if (!f) flags.set(req.raw, (f = { hang: false, counted: false }));
    return f;
  };
  const timers = new Set<NodeJS.Timeout>();
  const heldSockets = new Set<Socket>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  // logger: false — no request logging at all; the benchmark measures evosync, not log I/O.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, forceCloseConnections: true });
  installBodyParsers(app, BODY_LIMIT);

  const routeKey = (req: FastifyRequest): string => {
    const url = req.routeOptions.url;
    return url === undefined ? `${req.method} (unmatched)` : `${req.method} ${url.replace(API_PREFIX, '')}`;
  };

  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith('/_sim/')) return;
    const isApi = req.url.startsWith('/api/');
    stats.request(routeKey(req));
    const f = flagsOf(req);
    if (isApi && faults.outage) {
      // Chatwoot unreachable: the client sees a reset / "socket hang up"; nothing happens.
      f.counted = true;
      stats.status('reset');
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    if (faults.rateLimits && limiter.throttled(req.ip, req.url.split('?')[0] ?? req.url)) {
      stats.rateLimited();
      return reply.code(429).header('content-type', 'text/plain').send('Retry later\n');
    }
    if (!isApi) return;
    if (faults.latencyMs > 0) await new Promise<void>((r) => later(faults.latencyMs, r));
    if (faults.errorRate > 0 && faultRng.chance(faults.errorRate)) {
      const status = faultRng.pick([500, 502, 503]);
      if (status === 500) return reply.code(500).send({ status: 500, error: 'Internal Server Error' });
      return reply.code(status).header('content-type', 'text/html').send(GATEWAY_PAGES[status]);
    }
    if (WRITE_METHODS.has(req.method) && faults.timeoutAfterCommitRate > 0) {
      f.hang = faultRng.chance(faults.timeoutAfterCommitRate);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    if (req.url.startsWith('/_sim/')) return;
    const f = flagsOf(req);
    if (!f.counted) stats.status(reply.statusCode);
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send(err.body);
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413) return reply.code(413).send({ status: 413, error: 'Payload Too Large' });
    if (status !== undefined && status >= 400 && status < 500) return reply.code(400).send({ status: 400, error: 'Bad Request' });
    return reply.code(500).send(internalError().body);
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ status: 404, error: 'Not Found' }));

  const deps: ApiDeps = {
    ctx,
    flags: flagsOf,
    hang: (req: FastifyRequest, reply: FastifyReply) => {
      // The side effect is committed; the answer is lost. Hold the socket, then drop it.
      flagsOf(req).counted = true;
      stats.status('timeout');
      reply.hijack();
      const socket = req.raw.socket;
      heldSockets.add(socket);
      later(faults.hangMs, () => {
        heldSockets.delete(socket);
        socket.destroy();
      });
    },
  };
  registerContactRoutes(app, deps);
  registerConversationRoutes(app, deps);
  registerMessageRoutes(app, deps);
  // The seeded API inbox carries the installation's version: a secret means 4.13.
  registerInboxRoutes(app, deps, { signing: () => seeded.apiInbox.secret !== null });

  const sim: ChatwootSim = {
    url: '',
    accountId,
    inboxId: seeded.apiInbox.id,
    token: seeded.admin.token,
    agentToken: seeded.agent.token,
    botToken: seeded.bot.token,
    setFaults: (partial) => {
      faults = sanitizeFaults(faults, partial);
    },
    faults: () => ({ ...faults }),
    setInboxWebhook: (url, secret) => {
      seeded.apiInbox.webhookUrl = url;
      if (secret !== undefined) seeded.apiInbox.secret = secret;
    },
    agentReply: async (displayId, content, replyOpts = {}) => {
      const conv = store.conversationByDisplayId(accountId, displayId);
      if (!conv) throw new Error(`conversation ${displayId} not found`);
      const params: Record<string, unknown> = {
        content,
        message_type: 'outgoing',
        private: replyOpts.private ?? false,
        attachments: (replyOpts.attachments ?? []).map((a) => new FilePart(a.fileName, a.contentType, a.data)),
      };
      if (replyOpts.inReplyTo !== undefined) params.content_attributes = { in_reply_to: replyOpts.inReplyTo };
      try {
        const { message } = createMessage(ctx, conv, { kind: 'user', user: seeded.admin }, params);
        return messageJson(ctx, message);
      } catch (err) {
        if (err instanceof HttpError) throw new Error(`agentReply failed: ${err.message}`);
        throw err;
      }
    },
    snapshot: () => store.snapshot(),
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of heldSockets) s.destroy();
      heldSockets.clear();
      await dispatcher?.close();
      await app.close();
    },
  };
  registerSimRoutes(app, ctx, { sim: () => sim, webhooksIdle: () => dispatcher?.idle() ?? Promise.resolve() });

  const address = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const host = opts.host ?? '127.0.0.1';
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  void address;
  sim.url = baseUrl;
  return sim;
}
