import { request } from 'undici';
import type { Failure } from './classify.js';

/** WhatsApp's own ceiling for documents; nothing larger can be sent anyway. */
const MAX_BYTES = 100 * 1024 * 1024;

export type Fetched = { ok: true; bytes: Buffer; contentType: string | null } | { ok: false; failure: Failure };

/**
 * Downloads an agent reply's file from Chatwoot. Only URLs on Chatwoot's own origin are fetched:
 * the URL comes from a webhook body, and evosync must not be made to fetch anything else. The
 * ActiveStorage redirect (to disk or S3, presigned briefly) is followed, so it is resolved afresh at
 * every attempt rather than cached.
 */
export async function fetchAttachment(url: string, chatwootBaseUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<Fetched> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, failure: { kind: 'rejected', status: null, message: `attachment URL is not a URL: ${url.slice(0, 200)}` } };
  }
  const base = new URL(chatwootBaseUrl);
  if (target.origin !== base.origin) {
    return { ok: false, failure: { kind: 'rejected', status: null, message: `attachment URL ${target.origin} is not on CHATWOOT_URL (${base.origin}); not fetched` } };
  }
  try {
    const res = await request(target, {
      method: 'GET',
      maxRedirections: 5,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal,
    });
    if (res.statusCode >= 400) {
      await res.body.dump().catch(() => undefined);
      const kind = res.statusCode === 404 ? 'rejected' : res.statusCode >= 500 || res.statusCode === 429 ? 'server' : 'rejected';
      return { ok: false, failure: { kind, status: res.statusCode, message: `attachment download answered HTTP ${res.statusCode}` } };
    }
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > MAX_BYTES) {
      await res.body.dump().catch(() => undefined);
      return { ok: false, failure: { kind: 'rejected', status: res.statusCode, message: `attachment is ${length} bytes, over WhatsApp's limit` } };
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    if (bytes.length > MAX_BYTES) return { ok: false, failure: { kind: 'rejected', status: res.statusCode, message: `attachment is ${bytes.length} bytes, over WhatsApp's limit` } };
    const ct = res.headers['content-type'];
    return { ok: true, bytes, contentType: (Array.isArray(ct) ? ct[0] : ct) ?? null };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    // A failed download sent nothing to WhatsApp: always safe to try again.
    return { ok: false, failure: { kind: 'unreachable', status: null, message: `attachment download failed: ${e.code ?? ''} ${e.message ?? String(error)}`.trim() } };
  }
}
