import { markdownToWhatsApp } from '../chatwoot/markdown-to-whatsapp.js';
import type { AgentReply } from '../domain/agent-reply.js';
import type { MediaRef } from '../domain/message.js';
import type { EvolutionSend, QuotedRef } from './client.js';
import { WHATSAPP_MEDIA_LIMIT_BYTES } from './media-limits.js';

/**
 * An agent reply as an Evolution send request, and what the message it creates will look like in
 * WhatsApp (its kind and text), which is how a send whose answer was lost is recognised later
 * among the chat's stored messages and echoes.
 */
export interface SendShape {
  /** Kind of the WhatsApp message the send creates: null for text. */
  media: MediaRef['kind'] | null;
  /** Its text or caption, exactly as WhatsApp will carry it. */
  text: string;
}

export interface FileData {
  bytes: Buffer;
  contentType: string | null;
}

/** The text WhatsApp gets: WhatsApp formatting, and the agent's name first when signatures are on. */
export function whatsappText(reply: AgentReply, signature: boolean): string {
  const body = markdownToWhatsApp(reply.text).trim();
  if (!body) return '';
  return signature && reply.senderName ? `*${reply.senderName.trim()}:*\n${body}` : body;
}

/** Images and videos WhatsApp shows inline; anything else goes as a document, as Evolution's own integration does. */
const INLINE_IMAGE = /^image\/(jpeg|png|webp)$/i;
const INLINE_VIDEO = /^video\/(mp4|3gpp)$/i;

/**
 * `bytes`: the file's size once fetched. A file over WhatsApp's limit for its kind (an 8 MB photo,
 * a 20 MB voice note) would be refused as that kind, so it goes as a document (up to 100 MB), as
 * WhatsApp's own apps offer; the size is the same at every attempt, so a look-up matches the send.
 */
export function shapeOf(reply: AgentReply, signature: boolean, mime: string | null, bytes?: number): SendShape {
  const text = whatsappText(reply, signature);
  const a = reply.attachment;
  if (!a) return { media: null, text };
  const fits = (kind: MediaRef['kind']) => bytes === undefined || bytes <= WHATSAPP_MEDIA_LIMIT_BYTES[kind];
  if (a.fileType === 'audio' && fits('audio')) return { media: 'audio', text: '' };
  if (a.fileType === 'image' && (!mime || INLINE_IMAGE.test(mime)) && fits('image')) return { media: 'image', text };
  if (a.fileType === 'video' && (!mime || INLINE_VIDEO.test(mime)) && fits('video')) return { media: 'video', text };
  return { media: 'document', text };
}

export function sendRequest(reply: AgentReply, shape: SendShape, quoted: QuotedRef | null, file: FileData | null): EvolutionSend {
  const number = reply.chat;
  const q = quoted ? { quoted } : {};
  const a = reply.attachment;
  if (!a || !file || shape.media === null) return { endpoint: 'sendText', body: { number, text: shape.text, ...q } };
  const media = file.bytes.toString('base64');
  // Voice notes: Evolution converts to opus and sends as PTT; quoting is not passed on there.
  if (shape.media === 'audio') return { endpoint: 'sendWhatsAppAudio', body: { number, audio: media } };
  const mimetype = mimeOf(a.contentType, file.contentType);
  return {
    endpoint: 'sendMedia',
    body: {
      number,
      mediatype: shape.media === 'image' ? 'image' : shape.media === 'video' ? 'video' : 'document',
      media,
      ...(mimetype ? { mimetype } : {}),
      // Evolution refuses a base64 document without a file name.
      ...(a.fileName || shape.media === 'document' ? { fileName: a.fileName || 'attachment' } : {}),
      ...(shape.text ? { caption: shape.text } : {}),
      ...q,
    },
  };
}

/** The attachment's own type (Chatwoot ≥ 4.13) wins over the storage's Content-Type. */
export function mimeOf(declared: string | null, served: string | null): string | null {
  const pick = declared || served;
  if (!pick) return null;
  const bare = pick.split(';')[0]?.trim() ?? '';
  return bare && bare !== 'application/octet-stream' ? bare : (declared ?? null);
}

/** Whether a WhatsApp message (kind and text as evosync normalises them) is what this send creates. */
export function matchesShape(shape: SendShape, media: MediaRef['kind'] | null, text: string): boolean {
  const sameKind = shape.media === null ? media === null : shape.media === 'audio' ? media === 'audio' || media === 'voice' : media === shape.media;
  return sameKind && normalizeText(text) === normalizeText(shape.text);
}

const normalizeText = (s: string): string => s.replace(/\r\n?/g, '\n').trim();
