/**
 * Registration of account-scoped API routes with Chatwoot's before_action order:
 *   1. api_access_token (missing → Devise 401, unknown → "Invalid Access Token");
 *   2. bot allow-list (AccessTokenAuthHelper::BOT_ACCESSIBLE_ENDPOINTS);
 *   3. account lookup (404) and membership (401);
 *   4. the action, whose RecordNotFound/Pundit/validation errors map per request_exception_handler.
 * It also applies the "timeout after commit" fault: the action runs, the answer is never sent.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mergedParams } from './body.js';
import { rubyToI } from './coerce.js';
import type { SimContext } from './context.js';
import { HttpError, RecordNotUnique, internalError, notFound, unauthorized } from './errors.js';
import type { Account, Actor } from './model.js';

export const API_PREFIX = '/api/v1/accounts/:account_id';

export interface ApiCall {
  actor: Actor;
  account: Account;
  /** Administrator of this account (bots are not). */
  isAdmin: boolean;
  /** Rails-style merged params (query < body < path). */
  params: Record<string, unknown>;
}

/** A non-JSON or non-200 success (e.g. `head :ok`). */
export class RawResponse {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType?: string,
  ) {}
}

export type ApiHandler = (call: ApiCall) => unknown;

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to API_PREFIX. */
  path: string;
  /** True for the endpoints agent-bot tokens may call. */
  bot?: boolean;
  handler: ApiHandler;
}

export interface RequestFlags {
  /** Decided in onRequest: run the action, then never answer. */
  hang: boolean;
  /** Already counted in byStatus (hang/outage/fault paths). */
  counted: boolean;
}

export interface ApiDeps {
  ctx: SimContext;
  flags(req: FastifyRequest): RequestFlags;
  /** Holds the socket for `hangMs`, then destroys it. */
  hang(req: FastifyRequest, reply: FastifyReply): void;
}

function tokenOf(req: FastifyRequest): string | null {
  for (const name of ['api_access_token', 'api-access-token']) {
    const v = req.headers[name];
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && s.trim() !== '') return s;
  }
  return null;
}

function authenticate(deps: ApiDeps, req: FastifyRequest, spec: RouteSpec): { actor: Actor; account: Account } {
  const { store } = deps.ctx;
  const token = tokenOf(req);
  if (token === null) {
    // devise_token_auth's render_authenticate_error.
    throw new HttpError(401, { errors: ['You need to sign in or sign up before continuing.'] });
  }
  const actor = store.actorForToken(token);
  if (!actor) throw unauthorized('Invalid Access Token');
  if (actor.kind === 'bot' && !spec.bot) throw unauthorized('Access to this endpoint is not authorized for bots');
  const accountId = rubyToI((req.params as Record<string, string>).account_id);
  const account = store.accounts.get(accountId);
  if (!account) throw notFound();
  if (actor.kind === 'user' && !actor.user.roles.has(account.id)) {
    throw unauthorized('You are not authorized to access this account');
  }
  if (actor.kind === 'bot' && actor.bot.accountId !== account.id) {
    throw unauthorized('Bot is not authorized to access this account');
  }
  return { actor, account };
}

export function registerApiRoute(app: FastifyInstance, deps: ApiDeps, spec: RouteSpec): void {
  app.route({
    method: spec.method,
    url: `${API_PREFIX}${spec.path}`,
    handler: async (req, reply) => {
      let status = 200;
      let body: unknown;
      let contentType = 'application/json; charset=utf-8';
      try {
        const { actor, account } = authenticate(deps, req, spec);
        const isAdmin = actor.kind === 'user' && actor.user.roles.get(account.id) === 'administrator';
        const params = mergedParams(req.query, req.body, req.params as Record<string, string>);
        const result = spec.handler({ actor, account, isAdmin, params });
        if (result instanceof RawResponse) {
          status = result.status;
          body = result.body;
          contentType = result.contentType ?? 'text/plain; charset=utf-8';
        } else body = result;
      } catch (err) {
        const e = err instanceof HttpError ? err : err instanceof RecordNotUnique ? internalError() : unexpected(err);
        status = e.status;
        body = e.body;
        contentType = e.contentType;
      }
      if (deps.flags(req).hang) {
        deps.hang(req, reply);
        return reply;
      }
      reply.code(status).header('content-type', contentType);
      return reply.send(typeof body === 'string' ? body : JSON.stringify(body));
    },
  });
}

function unexpected(err: unknown): HttpError {
  if (process.env.CHATWOOT_SIM_DEBUG) console.error('[chatwoot-sim] unexpected error', err);
  return internalError();
}
