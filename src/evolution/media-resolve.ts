import type { Failure } from '../chatwoot/classify.js';
import type { ChatMessage, MediaRef } from '../domain/message.js';
import type { MediaFetch } from './media-fetch.js';
import { tooBig } from './media-fetch.js';
import { base64DecodedBytes } from './media-limits.js';

/** A file ready to upload to Chatwoot. */
export interface MediaFile {
  fileName: string;
  /** The part's Content-Type; Chatwoot picks the attachment's file_type from it. */
  contentType: string;
  data: Buffer;
}

/**
 * - `attach`: upload this file, the caption as the content;
 * - `placeholder`: the file cannot be had; deliver the text saying so and why;
 * - `retry`: a transient failure fetching it; the message is retried like any failure.
 */
export type MediaOutcome = { kind: 'attach'; file: MediaFile } | { kind: 'placeholder'; reason: string } | { kind: 'retry'; failure: Failure };

export interface MediaSource {
  /** Largest file fetched or uploaded (EVOSYNC_MEDIA_MAX_BYTES). */
  maxBytes: number;
  /** Fetches a file from Evolution; null when evosync has no Evolution URL and key. */
  fetch: ((instance: string, waId: string, maxBytes: number, signal?: AbortSignal) => Promise<MediaFetch>) | null;
}

/**
 * Attempts (this one included) a WhatsApp download failure is retried before the file is given up.
 * Evolution reports a CDN hiccup and expired media alike, as 400; a few tries tell them apart.
 */
export const MEDIA_DOWNLOAD_TRIES = 3;

/**
 * Finds the file of a media message: the copy Evolution sent inline (kept in the ledger), else
 * Evolution's getBase64FromMediaMessage. `attempts` is how many attempts the message has already
 * failed.
 */
export async function resolveMedia(msg: ChatMessage, media: MediaRef, attempts: number, source: MediaSource, signal?: AbortSignal): Promise<MediaOutcome> {
  if (typeof media.sizeBytes === 'number' && media.sizeBytes > source.maxBytes) return { kind: 'placeholder', reason: tooBig(media.sizeBytes, source.maxBytes) };
  if (media.base64) {
    const bytes = base64DecodedBytes(media.base64);
    if (bytes > source.maxBytes) return { kind: 'placeholder', reason: tooBig(bytes, source.maxBytes) };
    const data = Buffer.from(media.base64, 'base64');
    // An empty decode means the inline copy was not base64 at all: fetch the file instead.
    if (data.length > 0) return { kind: 'attach', file: fileOf(msg.waId, media, data, null, null) };
  }
  if (!source.fetch) {
    return { kind: 'placeholder', reason: media.inlineDropped ?? 'Evolution did not send the file inline (webhook base64 off) and evosync cannot fetch it (EVOLUTION_URL / EVOLUTION_API_KEY unset)' };
  }
  const r = await source.fetch(msg.instance, msg.waId, source.maxBytes, signal);
  switch (r.kind) {
    case 'file':
      return { kind: 'attach', file: fileOf(msg.waId, media, r.data, r.mimetype, r.fileName) };
    case 'gone':
      return { kind: 'placeholder', reason: r.reason };
    case 'retry':
      return { kind: 'retry', failure: r.failure };
    case 'download_failed':
      return attempts + 1 >= MEDIA_DOWNLOAD_TRIES ? { kind: 'placeholder', reason: `${r.reason}; gave up after ${attempts + 1} tries` } : { kind: 'retry', failure: r.failure };
  }
}

const DEFAULT_TYPE: Record<MediaRef['kind'], string> = {
  image: 'image/jpeg',
  video: 'video/mp4',
  audio: 'audio/ogg',
  voice: 'audio/ogg; codecs=opus',
  document: 'application/octet-stream',
  sticker: 'image/webp',
};

const EXTENSION: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
  'video/quicktime': 'mov',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/amr': 'amr',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
};

function fileOf(waId: string, media: MediaRef, data: Buffer, fetchedType: string | null, fetchedName: string | null): MediaFile {
  const mimetype = media.mimetype ?? fetchedType ?? DEFAULT_TYPE[media.kind];
  const base = baseType(mimetype);
  // Evolution names a file WhatsApp left unnamed `<id>.<mime-types extension>` (`.mpga`, `.oga`):
  // the familiar extension is used instead whenever the type is a known one.
  const fileName = media.fileName ?? `${waId}.${EXTENSION[base] ?? extensionOf(fetchedName) ?? 'bin'}`;
  return { fileName, contentType: partType(mimetype), data };
}

const extensionOf = (name: string | null): string | null => (name && /\.([A-Za-z0-9]{1,8})$/.exec(name)?.[1]) || null;

const baseType = (mimetype: string): string => (mimetype.split(';')[0] ?? '').trim().toLowerCase();

/**
 * Chatwoot matches image and video types exactly (`image/jpeg; x=y` would become a plain file),
 * while any `audio/…` is audio: parameters are dropped except on audio, where the codec matters
 * to players (WhatsApp voice notes are `audio/ogg; codecs=opus`).
 */
function partType(mimetype: string): string {
  const base = baseType(mimetype);
  if (!/^[\w.+-]+\/[\w.+-]+$/.test(base)) return 'application/octet-stream';
  return base.startsWith('audio/') ? mimetype.trim() : base;
}
