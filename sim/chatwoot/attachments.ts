/**
 * Attachment rules: file_type is derived from the uploaded part's Content-Type by exact match
 * (FileTypeHelper), so `image/svg+xml`, `image/heic` or `image/jpeg; charset=x` become `file`
 * while any `audio/...` string is audio. data_url points at an ActiveStorage-like redirect route
 * the fake serves, so relays must follow a 302 just as with the real thing.
 */
import type { SimContext } from './context.js';
import type { Attachment } from './model.js';

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/bmp', 'image/webp']);
const VIDEO_TYPES = new Set(['video/ogg', 'video/mp4', 'video/webm', 'video/quicktime']);

export const MAX_ATTACHMENTS = 15;

export function fileTypeFor(contentType: string): Attachment['fileType'] {
  if (IMAGE_TYPES.has(contentType)) return 'image';
  if (VIDEO_TYPES.has(contentType)) return 'video';
  if (contentType.includes('audio/')) return 'audio';
  return 'file';
}

export interface UploadedFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

/**
 * An uploaded file as it sits inside params (Rack's UploadedFile): a class instance so it is
 * never mistaken for a JSON hash.
 */
export class FilePart implements UploadedFile {
  constructor(
    readonly filename: string,
    readonly contentType: string,
    readonly data: Buffer,
  ) {}
}

export function buildAttachment(ctx: SimContext, accountId: number, file: UploadedFile): Omit<Attachment, 'messageId'> {
  const id = ctx.store.newAttachmentId();
  return {
    id,
    accountId,
    fileType: fileTypeFor(file.contentType),
    contentType: file.contentType,
    fileName: file.filename,
    data: file.data,
    // Looks like a signed blob id; contains the id so it is unique.
    signedId: `eyJfcmFpbHMiOnsiZGF0YSI6${id}--${ctx.ids.hex(40)}`,
  };
}

export function dataUrl(ctx: SimContext, a: Attachment): string {
  return `${ctx.baseUrl()}/rails/active_storage/blobs/redirect/${a.signedId}/${encodeURIComponent(a.fileName)}`;
}

/** Attachment#push_event_data (same object in REST responses and webhooks). */
export function attachmentJson(ctx: SimContext, a: Attachment, withContentType: boolean): Record<string, unknown> {
  const url = dataUrl(ctx, a);
  const json: Record<string, unknown> = {
    id: a.id,
    message_id: a.messageId,
    file_type: a.fileType,
    account_id: a.accountId,
    extension: null,
    data_url: url,
    thumb_url: a.fileType === 'image' ? url : '',
    file_size: a.data.length,
    width: null,
    height: null,
  };
  if (withContentType) json.content_type = a.contentType; // added in 4.13
  if (a.fileType === 'audio') json.transcribed_text = '';
  return json;
}
