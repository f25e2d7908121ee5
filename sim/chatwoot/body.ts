/**
 * Request body parsing with Rails' tolerance: an empty JSON body is fine, a non-object JSON
 * body lands under `_json`, form and multipart bodies use Rack's nested keys, and unknown
 * content types are ignored instead of rejected (Rails just sees no body params).
 */
import type { FastifyInstance } from 'fastify';
import { FilePart } from './attachments.js';
import { isPlainObject } from './coerce.js';
import { HttpError } from './errors.js';
import { boundaryOf, MultipartError, parseMultipart } from './multipart.js';
import { fromPairs } from './rails-params.js';

export class ParsedBody {
  constructor(readonly params: Record<string, unknown>) {}
}

const EMPTY = (): ParsedBody => new ParsedBody({});

const badRequest = (): HttpError => new HttpError(400, { status: 400, error: 'Bad Request' });

export function installBodyParsers(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();

  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, EMPTY());
    try {
      const parsed: unknown = JSON.parse(text);
      done(null, new ParsedBody(isPlainObject(parsed) ? parsed : { _json: parsed }));
    } catch {
      done(badRequest(), undefined);
    }
  });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    done(null, new ParsedBody(fromPairs(new URLSearchParams(text).entries())));
  });

  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit }, (req, body, done) => {
    const boundary = boundaryOf(req.headers['content-type']);
    if (!boundary) return done(badRequest(), undefined);
    try {
      const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body);
      const parts = parseMultipart(buffer, boundary);
      const pairs: Array<[string, unknown]> = parts.fields.map((f) => [f.name, f.value]);
      for (const f of parts.files) pairs.push([f.name, new FilePart(f.filename, f.contentType, f.data)]);
      done(null, new ParsedBody(fromPairs(pairs)));
    } catch (err) {
      done(err instanceof MultipartError ? badRequest() : (err as Error), undefined);
    }
  });

  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, _body, done) => done(null, EMPTY()));
}

/** Rails' `params`: query string, then body params, then path params (later wins). */
export function mergedParams(
  query: unknown,
  body: unknown,
  path: Record<string, string>,
): Record<string, unknown> {
  // fast-querystring builds its result from a null-prototype class, so not a "plain" object.
  const q = typeof query === 'object' && query !== null ? { ...(query as Record<string, unknown>) } : {};
  const b = body instanceof ParsedBody ? body.params : {};
  return { ...q, ...b, ...path };
}
