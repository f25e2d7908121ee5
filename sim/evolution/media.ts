/**
 * Fake media. Real Evolution downloads media from WhatsApp's CDN; here the bytes are derived from
 * the message id, so the `fileLength` in a payload, the `base64` a webhook carries and what
 * getBase64FromMediaMessage returns always agree, and two runs with one seed give the same bytes.
 * Media uploaded through the send endpoints is kept as uploaded.
 */
import { derivedBytes } from './proto-json.js';

/** Size of the fake file for a message id: small (0.5–4 KiB) so benchmarks stay cheap. */
export function fakeMediaSize(id: string): number {
  const b = derivedBytes(`size:${id}`, 2);
  return 512 + ((((b[0] ?? 0) << 8) | (b[1] ?? 0)) % 3584);
}

/** What a getBase64FromMediaMessage call for one message id meets (see MediaStore.downloadFault). */
export type DownloadFault = { kind: 'expired' } | { kind: 'http'; status: number; remaining: number };

/**
 * Per-sim media: uploads through the send endpoints are kept, everything else is derived. Tests
 * may replace a file (`put`), make WhatsApp's CDN forget it (`expire`), or have the endpoint fail a
 * few times with an HTTP status (`failNext`, a proxy or restart in front of Evolution: Evolution
 * itself answers every failure of this endpoint with 400).
 */
export class MediaStore {
  private readonly uploaded = new Map<string, Buffer>();
  private readonly faults = new Map<string, DownloadFault>();

  bytes(id: string): Buffer {
    return this.uploaded.get(id) ?? derivedBytes(`media:${id}`, fakeMediaSize(id));
  }

  size(id: string): number {
    return this.uploaded.get(id)?.length ?? fakeMediaSize(id);
  }

  remember(id: string, bytes: Buffer): void {
    this.uploaded.set(id, bytes);
  }

  put(id: string, bytes: Buffer): void {
    this.uploaded.set(id, bytes);
  }

  expire(id: string): void {
    this.faults.set(id, { kind: 'expired' });
  }

  failNext(id: string, times: number, status = 502): void {
    this.faults.set(id, { kind: 'http', status, remaining: times });
  }

  /** The fault the next download of `id` meets, if any (an HTTP fault is used up as it fires). */
  downloadFault(id: string): DownloadFault | null {
    const f = this.faults.get(id);
    if (!f) return null;
    if (f.kind === 'http') {
      if (f.remaining <= 0) return null;
      f.remaining -= 1;
    }
    return f;
  }
}

/** The media content keys Evolution looks for (TypeMediaMessage), in its order. */
export const MEDIA_TYPES = [
  'imageMessage',
  'documentMessage',
  'audioMessage',
  'videoMessage',
  'stickerMessage',
  'ptvMessage',
] as const;

/** The keys whose presence makes Evolution treat an upsert as media (and attach base64). */
export function isMediaMessage(message: Record<string, unknown>): boolean {
  return (
    'imageMessage' in message ||
    'videoMessage' in message ||
    'stickerMessage' in message ||
    'documentMessage' in message ||
    'documentWithCaptionMessage' in message ||
    'ptvMessage' in message ||
    'audioMessage' in message
  );
}

const BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'application/mp4',
  mov: 'video/quicktime',
  '3gp': 'video/3gpp',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  wav: 'audio/wav',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
  json: 'application/json',
};

/**
 * mime-types lookup(): the type for a file name, or false. Evolution calls `.toString()` on the
 * result, so an unknown extension really becomes the mimetype "false"; callers reproduce that.
 */
export function mimeLookup(fileName: string): string | false {
  const ext = fileName.includes('.') ? fileName.split('.').pop()?.toLowerCase() : fileName.toLowerCase();
  return (ext && BY_EXTENSION[ext]) || false;
}

const EXTENSION_OF: Record<string, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'audio/ogg': 'oga',
  'audio/mpeg': 'mpga',
  'audio/mp4': 'm4a',
  'application/pdf': 'pdf',
  'text/plain': 'txt',
};

/** mime-types extension(): the first extension for a type, parameters ignored; false when unknown. */
export function mimeExtension(mimetype: string): string | false {
  const base = (mimetype.split(';')[0] ?? '').trim().toLowerCase();
  return EXTENSION_OF[base] ?? false;
}
