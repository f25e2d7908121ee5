import type { Failure } from '../chatwoot/classify.js';
import type { JsonHttp } from '../chatwoot/http.js';
import { formatBytes } from './media-limits.js';

/**
 * What fetching one media file from Evolution came to:
 * - `file`: the bytes, with the mimetype and file name Evolution knows;
 * - `gone`: it will never be fetched (not stored, not media, too big): deliver a placeholder;
 * - `download_failed`: Evolution could not download it from WhatsApp. Evolution answers every
 *   failure of this endpoint with 400, a WhatsApp CDN hiccup as much as media that expired, so the
 *   caller retries a few times before treating it as gone;
 * - `retry`: Evolution itself failed (5xx, timeout, unreachable, bad key): retry like any failure.
 */
export type MediaFetch =
  | { kind: 'file'; data: Buffer; mimetype: string | null; fileName: string | null }
  | { kind: 'gone'; reason: string }
  | { kind: 'download_failed'; reason: string; failure: Failure }
  | { kind: 'retry'; failure: Failure };

interface Base64Answer {
  base64?: unknown;
  mimetype?: unknown;
  fileName?: unknown;
}

/** JSON and base64 around the file: the answer may be this much larger than 4/3 of the file. */
const ENVELOPE_BYTES = 64 * 1024;

/**
 * `POST /chat/getBase64FromMediaMessage/{instance}` with only the key (reference §4): Evolution
 * loads the message from its own database (DATABASE_SAVE_DATA_NEW_MESSAGE) and downloads the file
 * from WhatsApp. Answers `{mediaType, fileName, caption, size, mimetype, base64, buffer:null}` with
 * 201, or 400 `{status, error, response:{message:[reason]}}` for every failure.
 */
export async function fetchEvolutionMedia(http: JsonHttp, instance: string, waId: string, maxBytes: number, signal?: AbortSignal): Promise<MediaFetch> {
  const r = await http.request<Base64Answer>({
    method: 'POST',
    path: `/chat/getBase64FromMediaMessage/${encodeURIComponent(instance)}`,
    json: { message: { key: { id: waId } }, convertToMp4: false },
    maxResponseBytes: Math.ceil((maxBytes * 4) / 3) + ENVELOPE_BYTES,
    signal,
  });
  if (!r.ok) return classifyMediaFailure(r.failure, evolutionReason(r.body), maxBytes);
  const b64 = r.value?.base64;
  if (typeof b64 !== 'string' || b64.length === 0) return { kind: 'gone', reason: 'Evolution answered without the file' };
  const data = Buffer.from(b64, 'base64');
  if (data.length > maxBytes) return { kind: 'gone', reason: tooBig(data.length, maxBytes) };
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
  return { kind: 'file', data, mimetype: str(r.value.mimetype), fileName: str(r.value.fileName) };
}

export const tooBig = (bytes: number, maxBytes: number): string => `the file (${formatBytes(bytes)}) is larger than evosync's media limit (${formatBytes(maxBytes)}, EVOSYNC_MEDIA_MAX_BYTES)`;

/** Reasons Evolution gives that no retry can change (whatsapp.baileys.service getBase64FromMediaMessage). */
const FINAL_REASONS: readonly [RegExp, string][] = [
  [/message not found/i, 'Evolution has not stored this message (is DATABASE_SAVE_DATA_NEW_MESSAGE on?)'],
  [/not of the media type|messagecontextinfo|does not contain a supported media type/i, 'Evolution does not see a media file in this message'],
];

function classifyMediaFailure(failure: Failure, reason: string | null, maxBytes: number): MediaFetch {
  switch (failure.kind) {
    case 'unreachable':
    case 'ambiguous':
    case 'server':
    case 'rate_limited':
    case 'unauthorized': // a wrong API key is the operator's to fix, not a reason to give the file up
      return { kind: 'retry', failure: { ...failure, code: 'EVOLUTION_MEDIA_FAILED', message: `getBase64FromMediaMessage: ${failure.message}` } };
    case 'not_found':
      return { kind: 'gone', reason: `Evolution answered 404 (${reason ?? 'unknown instance?'})` };
    default: {
      if (failure.message.startsWith('response larger than')) return { kind: 'gone', reason: `the file is larger than evosync's media limit (${formatBytes(maxBytes)}, EVOSYNC_MEDIA_MAX_BYTES)` };
      const detail = reason ?? failure.message;
      for (const [re, why] of FINAL_REASONS) if (re.test(detail)) return { kind: 'gone', reason: why };
      if (failure.status === 400) {
        return { kind: 'download_failed', reason: `Evolution could not download it from WhatsApp (${detail})`, failure: { ...failure, kind: 'server', code: 'EVOLUTION_MEDIA_FAILED', message: `getBase64FromMediaMessage: ${detail}` } };
      }
      return { kind: 'gone', reason: `Evolution refused to fetch it (HTTP ${failure.status}: ${detail})` };
    }
  }
}

/** Evolution's error body: `{status, error, response: {message: [..] | string}}`. */
function evolutionReason(body: unknown): string | null {
  const message = (body as { response?: { message?: unknown } } | null | undefined)?.response?.message;
  if (typeof message === 'string') return message.slice(0, 300);
  if (Array.isArray(message)) return message.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join('; ').slice(0, 300);
  return null;
}
