/**
 * The HTTP front of the fake: Express-like body handling (an empty body is `{}`, JSON/urlencoded/
 * multipart parsed, anything else ignored), Evolution's guard order (instance exists → 404, then
 * apikey → 401) and its error handler's body shape.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { SimContext } from '../context.js';
import type { InstanceState } from '../instances.js';
import { EvoError, notFound, unauthorized } from './errors.js';

export interface UploadedFile {
  fieldname: string;
  originalname: string;
  mimetype: string;
  buffer: Buffer;
}

/** What a multipart request becomes: multer puts text fields in req.body and `file` aside. */
export interface MultipartBody {
  fields: Record<string, string>;
  file?: UploadedFile;
}

export const MULTIPART = Symbol('multipart');

export type Guard = 'instance' | 'fetchInstances';

export type Handler = (req: FastifyRequest, reply: FastifyReply, inst: InstanceState | null) => Promise<unknown>;

async function parseMultipart(body: Buffer, contentType: string): Promise<Record<string | symbol, unknown>> {
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  const out: MultipartBody = { fields: {} };
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') out.fields[name] = value;
    else if (name === 'file') {
      out.file = {
        fieldname: name,
        originalname: value.name,
        mimetype: value.type,
        buffer: Buffer.from(await value.arrayBuffer()),
      };
    }
  }
  return { ...out.fields, [MULTIPART]: out };
}

export function createApp(): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 136 * 1024 * 1024,
    // A hung (ambiguous) send must not hold close() until its timer fires.
    forceCloseConnections: true,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      // body-parser's error has a status but no `error` field, hence this odd pairing.
      done(new EvoError(400, 'Internal Server Error', (err as Error).message), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (req, body, done) => {
    parseMultipart(body as Buffer, req.headers['content-type'] ?? '').then(
      (parsed) => done(null, parsed),
      (err: Error) => done(new EvoError(400, 'Internal Server Error', err.message), undefined),
    );
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, {}));

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof EvoError) return reply.status(err.status).send(err.body());
    const status = err.statusCode ?? 500;
    return reply.status(status).send({ status, error: 'Internal Server Error', response: { message: err.message } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ status: 404, error: 'Not Found', response: { message: [`Cannot ${req.method} ${req.url}`] } });
  });
  return app;
}

/** instanceExistsGuard then authGuard.apikey, in Evolution's order. */
function guard(ctx: SimContext, req: FastifyRequest, kind: Guard): InstanceState | null {
  const key = req.headers['apikey'];
  const apikey = Array.isArray(key) ? key[0] : key;
  if (kind === 'fetchInstances') {
    if (!apikey) throw unauthorized();
    if (apikey === ctx.apiKey) return null;
    for (const inst of ctx.instances.values()) if (inst.token === apikey) return inst;
    throw unauthorized();
  }
  const name = (req.params as { instanceName?: string }).instanceName ?? '';
  const inst = ctx.instances.get(name);
  if (!inst) throw notFound(`The "${name}" instance does not exist`);
  if (!apikey) throw unauthorized();
  if (apikey === ctx.apiKey || apikey === inst.token) return inst;
  throw unauthorized();
}

/** Register a guarded route; the handler's return value is the JSON body (undefined → empty). */
export function route(
  app: FastifyInstance,
  ctx: SimContext,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT',
  url: string,
  status: number,
  handler: Handler,
  kind: Guard = 'instance',
): void {
  app.route({
    method,
    url,
    handler: async (req, reply) => {
      const inst = guard(ctx, req, kind);
      const result = await handler(req, reply, inst);
      if (reply.sent) return reply;
      reply.status(status);
      if (result === undefined) return reply.send();
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(result));
    },
  });
}

/** The request body as Express would have it: always an object. */
export function bodyOf(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  return b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}

export function multipartOf(req: FastifyRequest): MultipartBody | undefined {
  return (bodyOf(req) as Record<string | symbol, unknown>)[MULTIPART] as MultipartBody | undefined;
}
