import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes } from '../errors.js';
import type { LiveSource } from '../live/live-feed.js';
import { LIVE_SCRIPT, LIVE_SCRIPT_PATH, LIVE_SCRIPT_VERSION } from './live-script.js';
import { type LiveStreamOptions, LiveStreams } from './live-stream.js';

export interface LiveRouteDeps {
  source: LiveSource;
  /**
   * For a request with a valid session: a check that it still is (the stream outlives the request);
   * null without one.
   */
  authorized(req: FastifyRequest): (() => boolean) | null;
  /** The overview's live parts for the request's session, or null without one. */
  fragment(req: FastifyRequest): Promise<string | null>;
  headers: Readonly<Record<string, string>>;
  streams: LiveStreamOptions;
}

const ETAG = `"${LIVE_SCRIPT_VERSION}"`;

/**
 * The overview's live updates: its script, the change stream and the fragment the script re-reads.
 * All three need a session, like every dashboard route, but answer 401 with a code instead of a
 * redirect: the script fetches them, and says the session ended (a login page read as a fragment
 * would be swapped into the overview).
 */
export function liveRoutes(app: FastifyInstance, deps: LiveRouteDeps): LiveStreams {
  const streams = new LiveStreams(deps.source, deps.streams, deps.headers);
  // Before the server stops accepting and waits for its connections: an open stream never ends by itself.
  app.addHook('preClose', async () => streams.closeAll());

  const refuse = (reply: FastifyReply) =>
    reply.code(401).headers(deps.headers).send({ error: 'DASHBOARD_UNAUTHORIZED', message: ErrorCodes.DASHBOARD_UNAUTHORIZED });

  // The same for everyone, revalidated by its version: the overview's URL for it names the version.
  app.get(LIVE_SCRIPT_PATH, async (req, reply) => {
    if (!deps.authorized(req)) return refuse(reply);
    reply.headers({ ...deps.headers, 'cache-control': 'no-cache', etag: ETAG });
    if (req.headers['if-none-match'] === ETAG) return reply.code(304).send();
    return reply.code(200).type('text/javascript; charset=utf-8').send(LIVE_SCRIPT);
  });

  app.get('/live', async (req, reply) => {
    const authorized = deps.authorized(req);
    if (!authorized) return refuse(reply);
    return streams.open(reply, authorized);
  });

  app.get('/live/overview', async (req, reply) => {
    const body = await deps.fragment(req);
    if (body === null) return refuse(reply);
    return reply.code(200).headers(deps.headers).type('text/html; charset=utf-8').send(body);
  });
  return streams;
}
