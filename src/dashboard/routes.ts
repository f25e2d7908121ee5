import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { coerceError } from '../errors.js';
import { safeEqual } from '../ingest/token.js';
import type { Ledger, LedgerCounts, ReconcileRun } from '../ledger/ledger.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { ReconcileError } from '../reconcile/errors.js';
import { type TraceDeps, traceMessage } from '../trace/trace.js';
import type { ActivitySink } from '../live/changes.js';
import type { LiveSource } from '../live/live-feed.js';
import { HEADERS, LIVE_PAGE_HEADERS } from './headers.js';
import { type Html, html } from './html.js';
import { liveRoutes } from './live-routes.js';
import { LIVE_SCRIPT_PATH, LIVE_SCRIPT_VERSION } from './live-script.js';
import { LoginLimiter } from './login-limiter.js';
import { NOTICES, type NoticeCode } from './notices.js';
import { overviewModel } from './overview-model.js';
import { parseSearch } from './search.js';
import { SESSION_COOKIE, type Session, Sessions } from './session.js';
import { dashboardOffView, loginView } from './views/login.js';
import { page } from './views/layout.js';
import { searchView } from './views/messages.js';
import { overviewLiveParts, overviewView } from './views/overview.js';
import { traceView } from './views/trace.js';

export interface DashboardDeps {
  /** null = the dashboard is off (`/` says so; nothing else is served). */
  auth: { user: string; password: string } | null;
  ledger: Ledger;
  clock: Clock;
  logger: Logger;
  /** Ledger counts by state (cached by the service). */
  counts(): Promise<LedgerCounts>;
  /** Configured instances (null = whichever send events). */
  instances: readonly string[] | null;
  trace: TraceDeps;
  reconcile: { configured: boolean; windowMs: number; run(instance: string): Promise<ReconcileRun> };
  status(): { paused: { name: string; reason: string | null; until: number }[]; rabbitmq: string | null };
  /** A message was put back in its lane: wake the dispatcher instead of waiting for its poll. */
  requeued(): void;
  /** Live updates: what the overview's stream follows, and where operator actions are noted. */
  live: { source: LiveSource; activity: ActivitySink; pushMs: number; heartbeatMs?: number };
  /** Session lifetime; default 12 h. */
  sessionTtlMs?: number;
  loginLimiter?: LoginLimiter;
}

/** Heartbeat of the live stream: below the idle timeouts of common proxies (nginx: 60 s). */
const LIVE_HEARTBEAT_MS = 15_000;
/** Open live streams per process; a dashboard tab holds one. */
const LIVE_MAX_STREAMS = 100;

/**
 * The operator dashboard: server-rendered pages behind a login, over the ledger's read queries; its
 * actions (retry, discard, reconcile) call the same service functions as the API and CLI.
 */
export function dashboardRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const auth = deps.auth;
  if (!auth) {
    app.get('/', async (_req, reply) => sendPage(reply, 404, page('Dashboard off', dashboardOffView(), null)));
    return;
  }
  const sessions = new Sessions(deps.sessionTtlMs ?? 12 * 3_600_000);
  const limiter = deps.loginLimiter ?? new LoginLimiter();
  const log = deps.logger;

  const sessionOf = (req: FastifyRequest): Session | null => sessions.verify(cookie(req, SESSION_COOKIE), deps.clock.now());
  const ctx = (s: Session, req: FastifyRequest, search?: string) => {
    const code = (req.query as { done?: string }).done;
    const notice = code && code in NOTICES ? NOTICES[code as NoticeCode] : null;
    return { user: s.user, csrf: sessions.csrfToken(s), notice, ...(search !== undefined ? { search } : {}) };
  };
  /** Session, same origin and CSRF token of a state-changing form; on failure the reply is sent. */
  const authorizeForm = (req: FastifyRequest, reply: FastifyReply): { session: Session; form: URLSearchParams } | null => {
    const session = sessionOf(req);
    if (!session) {
      void redirect(reply, '/login');
      return null;
    }
    const form = formOf(req);
    if (!sameOrigin(req) || !sessions.checkCsrf(session, form.get('csrf'))) {
      void sendPage(reply, 403, page('Refused', errorBody('This form has expired or did not come from this dashboard. Go back, reload the page and try again.'), null));
      return null;
    }
    return { session, form };
  };

  app.get('/login', async (req, reply) => (sessionOf(req) ? redirect(reply, '/') : sendPage(reply, 200, page('Log in', loginView(null), null))));

  app.post('/login', async (req, reply) => {
    if (!sameOrigin(req)) return sendPage(reply, 403, page('Log in', loginView('This login form did not come from this dashboard.'), null));
    const now = deps.clock.now();
    const client = req.ip;
    const wait = limiter.retryAfterSeconds(client, now);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      return sendPage(reply, 429, page('Log in', loginView(`Too many failed logins. Try again in ${Math.ceil(wait / 60)} min.`), null));
    }
    const form = formOf(req);
    // Both compared every time, in constant time: the answer's timing says nothing about which was wrong.
    const userOk = safeEqual(form.get('user') ?? '', auth.user);
    const passwordOk = safeEqual(form.get('password') ?? '', auth.password);
    if (!(userOk && passwordOk)) {
      limiter.failed(client, now);
      log.warn({ client }, 'dashboard login failed');
      return sendPage(reply, 401, page('Log in', loginView('Wrong user or password.'), null));
    }
    limiter.succeeded(client);
    const { cookie: value } = sessions.issue(auth.user, now);
    setSessionCookie(req, reply, value, Math.floor(sessions.ttlMs / 1000));
    log.info({ user: auth.user, client }, 'dashboard login');
    return redirect(reply, '/');
  });

  app.post('/logout', async (req, reply) => {
    const ok = authorizeForm(req, reply);
    if (!ok) return reply;
    sessions.revoke(ok.session, deps.clock.now());
    setSessionCookie(req, reply, '', 0);
    return redirect(reply, '/login');
  });

  /** The overview's model and extras: the page and its live fragment are rendered from the same. */
  const overview = async (csrf: string) => {
    const o = await overviewModel(deps.ledger, deps.counts, deps.instances, deps.clock.now());
    const st = deps.status();
    return { o, x: { csrf, paused: st.paused, rabbitmq: st.rabbitmq, reconcileConfigured: deps.reconcile.configured, reconcileWindowMs: deps.reconcile.windowMs } };
  };

  app.get('/', async (req, reply) => {
    const s = sessionOf(req);
    if (!s) return redirect(reply, '/login');
    const c = ctx(s, req);
    const { o, x } = await overview(c.csrf);
    return sendPage(reply, 200, page('Overview', overviewView(o, x), c, `${LIVE_SCRIPT_PATH}?v=${LIVE_SCRIPT_VERSION}`), LIVE_PAGE_HEADERS);
  });

  liveRoutes(app, {
    source: deps.live.source,
    authorized: (req) => {
      const value = cookie(req, SESSION_COOKIE);
      return sessionOf(req) ? () => sessions.verify(value, deps.clock.now()) !== null : null;
    },
    fragment: async (req) => {
      const s = sessionOf(req);
      if (!s) return null;
      const { o, x } = await overview(sessions.csrfToken(s));
      return overviewLiveParts(o, x).value;
    },
    headers: HEADERS,
    streams: { pushMs: deps.live.pushMs, heartbeatMs: deps.live.heartbeatMs ?? LIVE_HEARTBEAT_MS, maxStreams: LIVE_MAX_STREAMS },
  });

  app.get('/messages', async (req, reply) => {
    const s = sessionOf(req);
    if (!s) return redirect(reply, '/login');
    const q = String((req.query as { q?: unknown }).q ?? '').trim().slice(0, 256);
    const search = parseSearch(q);
    const rows = search ? await deps.ledger.searchMessages({ ...search, limit: 100 }) : [];
    return sendPage(reply, 200, page('Messages', searchView(q, rows), ctx(s, req, q)));
  });

  app.get('/trace/:id', async (req, reply) => {
    const s = sessionOf(req);
    if (!s) return redirect(reply, '/login');
    const { id } = req.params as { id: string };
    const c = ctx(s, req, id);
    const result = await traceMessage(deps.trace, id.slice(0, 256));
    return sendPage(reply, result.traces.length > 0 ? 200 : 404, page(`Trace ${id}`, traceView(result, c.csrf), c));
  });

  for (const action of ['retry', 'discard'] as const) {
    app.post(`/messages/:id/${action}`, async (req, reply) => {
      const ok = authorizeForm(req, reply);
      if (!ok) return reply;
      const id = Number((req.params as { id: string }).id);
      if (!Number.isSafeInteger(id) || id <= 0) return sendPage(reply, 400, page('Refused', errorBody('No such message.'), null));
      const now = deps.clock.now();
      const done = action === 'retry' ? await deps.ledger.retryDead(id, now) : await deps.ledger.discardDead(id, now);
      if (done) {
        // Retry and discard both change what a lane may deliver next.
        deps.requeued();
        // The form names the message's instance for the live update only (it says what to re-read).
        deps.live.activity.note((ok.form.get('instance') ?? '').slice(0, 200) || 'unknown', action === 'retry' ? 'retried' : 'discarded');
        log.info({ user: ok.session.user, messageId: id, action }, action === 'retry' ? 'operator retried a dead message' : 'operator discarded a dead message');
      }
      const code: NoticeCode = !done ? 'not_dead' : action === 'retry' ? 'retried' : 'discarded';
      return redirect(reply, `${safeReturn(ok.form.get('return'))}?done=${code}`);
    });
  }

  app.post('/reconcile', async (req, reply) => {
    const ok = authorizeForm(req, reply);
    if (!ok) return reply;
    const instance = (ok.form.get('instance') ?? '').trim();
    if (!instance || instance.length > 200) return redirect(reply, '/?done=reconcile_input#reconcile');
    let code: NoticeCode;
    try {
      const run = await deps.reconcile.run(instance);
      code = run.error ? 'reconcile_failed' : 'reconcile_ok';
      log.info({ user: ok.session.user, instance, repaired: run.repaired, error: run.error }, 'operator ran a reconcile');
    } catch (error) {
      if (!(error instanceof ReconcileError)) log.error({ err: coerceError(error), instance }, 'dashboard reconcile failed');
      code = error instanceof ReconcileError && error.code === 'RECONCILE_BUSY' ? 'reconcile_busy' : error instanceof ReconcileError && error.code === 'RECONCILE_NOT_CONFIGURED' ? 'reconcile_not_configured' : 'reconcile_failed';
    }
    return redirect(reply, `/?done=${code}#reconcile`);
  });
}

function sendPage(reply: FastifyReply, status: number, body: string, headers: Readonly<Record<string, string>> = HEADERS): FastifyReply {
  return reply.code(status).headers(headers).type('text/html; charset=utf-8').send(body);
}

function redirect(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).headers(HEADERS).header('location', location).send('');
}

function errorBody(message: string): Html {
  return html`<div class="login"><h1>evosync</h1><p>${message}</p><p><a href="/">Back to the dashboard</a></p></div>`;
}

/** Where an action returns to: a path of this dashboard only (never another origin). */
function safeReturn(value: string | null): string {
  return value && /^\/(?!\/)[A-Za-z0-9/_\-.%:@]*$/.test(value) ? value : '/';
}

function formOf(req: FastifyRequest): URLSearchParams {
  return new URLSearchParams(typeof req.body === 'string' ? req.body : '');
}

/** A browser names the page a form came from; another origin's form is refused (with SameSite=Strict, defence in depth). */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function cookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function setSessionCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number): void {
  const https = req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
  reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${https ? '; Secure' : ''}`);
}
