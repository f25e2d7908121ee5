import type { MediaRef } from '../domain/message.js';

/**
 * WhatsApp's own size limits per media kind, from the WhatsApp Business Platform's "supported
 * media types" table: audio and video 16 MB, images 5 MB, documents 100 MB, stickers 500 KB
 * (animated; a static sticker is 100 KB). Sending more than this to WhatsApp fails, so they bound
 * what may go Chatwoot → WhatsApp. Files arriving from WhatsApp already passed WhatsApp's checks
 * (the consumer app allows some kinds to be larger), so inbound media is bounded by the operator's
 * `EVOSYNC_MEDIA_MAX_BYTES` instead, whose default is the largest of these.
 */
const MB = 1024 * 1024;

export const WHATSAPP_MEDIA_LIMIT_BYTES: Readonly<Record<MediaRef['kind'], number>> = {
  image: 5 * MB,
  video: 16 * MB,
  audio: 16 * MB,
  voice: 16 * MB,
  document: 100 * MB,
  sticker: 500 * 1024,
};

/** The largest file WhatsApp carries at all, and the default of EVOSYNC_MEDIA_MAX_BYTES. */
export const WHATSAPP_MAX_MEDIA_BYTES = 100 * MB;

/** Bytes a base64 string decodes to, without decoding it. */
export function base64DecodedBytes(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((b64.length * 3) / 4) - padding);
}

/** "4.2 MB" for operators and agents; binary megabytes, as the limits above. */
export function formatBytes(n: number): string {
  if (n >= MB) return `${(n / MB).toFixed(n >= 10 * MB ? 0 : 1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
