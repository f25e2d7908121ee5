import { Pool } from 'undici';
import { type Failure, classifyNetworkError, classifyStatus } from './classify.js';
import { encodeMultipart, type MultipartForm } from './multipart.js';

/** A failure answered by the upstream keeps its parsed body, for callers that read error details. */
export type Result<T> = { ok: true; value: T; status: number } | { ok: false; failure: Failure; body?: unknown };

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** multipart/form-data instead of JSON (Chatwoot attachments). */
  form?: MultipartForm;
  /** Larger answers are cut off and fail as `rejected`: a media download must not exhaust memory. */
  maxResponseBytes?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * A keep-alive connection pool to one upstream with JSON in and out, a hard timeout per request and
 * every outcome classified. Built on undici's Pool rather than fetch: one pooled origin, explicit
 * header/body timeouts, and no per-request allocation of WHATWG objects on the hot path.
 */
/** Awaited before every request: the place a rate limiter makes a request wait for its turn. */
export type BeforeRequest = (method: HttpRequest['method'], path: string, signal?: AbortSignal) => Promise<void>;

export class JsonHttp {
  readonly #pool: Pool;
  readonly #base: URL;
  readonly #headers: Record<string, string>;
  readonly #before: BeforeRequest | null;
  calls = 0;

  constructor(baseUrl: string, opts: { timeoutMs: number; headers: Record<string, string>; connections?: number; before?: BeforeRequest }) {
    this.#base = new URL(baseUrl);
    this.#headers = opts.headers;
    this.#before = opts.before ?? null;
    this.#pool = new Pool(this.#base.origin, {
      connections: opts.connections ?? 64,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connectTimeout: Math.min(opts.timeoutMs, 10_000),
      keepAliveTimeout: 4_000,
    });
  }

  async request<T>(req: HttpRequest): Promise<Result<T>> {
    if (this.#before) await this.#before(req.method, req.path, req.signal);
    this.calls += 1;
    const prefix = this.#base.pathname.replace(/\/+$/, '');
    let path = `${prefix}${req.path}`;
    if (req.query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query)) if (v !== undefined) qs.set(k, String(v));
      const s = qs.toString();
      if (s) path += `?${s}`;
    }
    const multipart = req.form ? encodeMultipart(req.form) : null;
    const contentType = multipart ? multipart.contentType : req.json !== undefined ? 'application/json' : null;
    try {
      const res = await this.#pool.request({
        method: req.method,
        path,
        headers: {
          accept: 'application/json',
          ...(contentType ? { 'content-type': contentType } : {}),
          ...this.#headers,
          ...req.headers,
        },
        body: multipart ? multipart.body : req.json !== undefined ? JSON.stringify(req.json) : undefined,
        // The per-request timeout is undici's headers/body timeout; this signal is only shutdown.
        signal: req.signal,
      });
      const text = await readText(res.body, req.maxResponseBytes);
      if (text === null) {
        return { ok: false, failure: { kind: 'rejected', status: res.statusCode, message: `response larger than ${req.maxResponseBytes} bytes` } };
      }
      let body: unknown = text;
      if (text && (res.headers['content-type'] ?? '').toString().includes('json')) {
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      const failure = classifyStatus(res.statusCode, body);
      if (failure) return { ok: false, failure, body };
      return { ok: true, value: body as T, status: res.statusCode };
    } catch (error) {
      return { ok: false, failure: classifyNetworkError(error) };
    }
  }

  #destroyed = false;

  close(): Promise<void> {
    return this.#destroyed ? Promise.resolve() : this.#pool.close();
  }

  /** Fails every request in flight at once (shutdown after the grace period). */
  destroy(): Promise<void> {
    this.#destroyed = true;
    return this.#pool.destroy();
  }
}

/** The body as text, or null once it passes `limit` bytes (the rest is discarded, not buffered). */
async function readText(body: AsyncIterable<Buffer> & { text(): Promise<string>; destroy(): unknown }, limit: number | undefined): Promise<string | null> {
  if (limit === undefined) return body.text();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
