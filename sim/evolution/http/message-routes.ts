/**
 * /message/sendText, /message/sendMedia, /message/sendWhatsAppAudio (HTTP 201, body = messageRaw).
 * Media handling follows prepareMediaMessage(): default file names, the mimetype taken from the
 * file name whenever there is one (even over the one the client sent), URL media fetched by the
 * server, base64 accepted only when class-validator calls it base64.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { request } from 'undici';
import type { SimContext } from '../context.js';
import type { InstanceState } from '../instances.js';
import { fakeMediaSize, mimeLookup } from '../media.js';
import * as P from '../payloads.js';
import { performSend, type SendOutcome, type SendRequest } from '../sender.js';
import { badRequest, internal } from './errors.js';
import { bodyOf, multipartOf, route } from './server.js';
import { isBase64, isURL, validateBody, type FieldRule } from './validate.js';

type Json = Record<string, unknown>;

const NUMBER: FieldRule = { type: 'string', required: true, description: 'Invalid format' };
/** `quoted` has no type in Evolution's schema (only properties), so any value passes. */
const COMMON: Record<string, FieldRule> = {
  delay: { type: 'integer', description: 'Enter a value in milliseconds' },
  everyOne: { type: 'boolean' },
  mentioned: { type: 'array' },
};

/** Answer a send: 201 with the messageRaw, or (ambiguous fault) hang and drop the connection. */
function answer(reply: FastifyReply, req: FastifyRequest, out: SendOutcome): Json | undefined {
  if (out.hangMs === undefined) return out.body;
  reply.hijack();
  setTimeout(() => req.raw.socket.destroy(), out.hangMs);
  return undefined;
}

/** axios.get(url, arraybuffer) as prepareMediaMessage does; failures surface as a 500. */
async function download(url: string): Promise<{ bytes: Buffer; contentType: string | undefined }> {
  try {
    const res = await request(url, { method: 'GET', signal: AbortSignal.timeout(30_000) });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode >= 400) throw new Error(`Request failed with status code ${res.statusCode}`);
    const ct = res.headers['content-type'];
    return { bytes, contentType: Array.isArray(ct) ? ct[0] : ct };
  } catch (err) {
    throw internal(`AxiosError: ${(err as Error).message}`);
  }
}

function common(body: Json): Pick<SendRequest, 'number' | 'delay' | 'quoted'> {
  return {
    number: String(body['number']),
    delay: typeof body['delay'] === 'number' ? body['delay'] : undefined,
    quoted: body['quoted'] as SendRequest['quoted'],
  };
}

async function sendMedia(ctx: SimContext, req: FastifyRequest, inst: InstanceState): Promise<SendOutcome> {
  const mp = multipartOf(req);
  const body: Json = mp ? { ...mp.fields } : bodyOf(req);
  validateBody(body, {
    number: NUMBER,
    mediatype: { type: 'string', required: true, enum: ['image', 'document', 'video', 'audio'] },
    mimetype: { type: 'string' },
    media: { type: 'string' },
    fileName: { type: 'string' },
    caption: { type: 'string' },
    ...COMMON,
  });
  const mediatype = body['mediatype'] as 'image' | 'document' | 'video' | 'audio';
  const media = body['media'];
  let fileName = body['fileName'] as string | undefined;
  if (isBase64(media) && !fileName && mediatype === 'document') throw badRequest('For base64 the file name must be informed.');
  if (!mp?.file && !isURL(media) && !isBase64(media)) throw badRequest('Owned media must be a url or base64');

  let bytes: Buffer;
  let urlType: string | undefined;
  if (mp?.file) bytes = mp.file.buffer;
  else if (isURL(media)) ({ bytes, contentType: urlType } = await download(media));
  else bytes = Buffer.from(media as string, 'base64');

  let mimetype: string | false = (body['mimetype'] as string | undefined) ?? false;
  if (mediatype === 'image') {
    fileName ??= 'image.jpg';
    mimetype = 'image/jpeg';
  }
  if (mediatype === 'document' && !fileName) {
    const m = /.*\/(.+?)\./.exec(String(media));
    if (!m) throw internal("TypeError: Cannot read properties of null (reading '1')");
    fileName = m[1];
  }
  if (mediatype === 'video' && !fileName) fileName = 'video.mp4';
  if (!mimetype) mimetype = (fileName && mimeLookup(fileName)) || urlType || false;
  if (fileName) {
    mimetype = String(mimeLookup(fileName));
    if (mimetype === 'application/mp4') mimetype = 'video/mp4';
  }
  const caption = body['caption'] as string | undefined;
  const type = String(mimetype);

  return performSend(ctx, inst, {
    ...common(body),
    kind: 'media',
    media: bytes,
    content: ({ id, ts, contextInfo }) => {
      const o = { label: id, fileLength: bytes.length || fakeMediaSize(id), timestamp: ts, mimetype: type, caption, contextInfo };
      if (mediatype === 'image') return P.imageMessage(o);
      if (mediatype === 'video') return P.videoMessage(o);
      if (mediatype === 'audio') return P.audioMessage({ ...o, caption: undefined, ptt: false });
      return P.documentMessage({ ...o, fileName, wrapCaption: false });
    },
  });
}

async function sendAudio(ctx: SimContext, req: FastifyRequest, inst: InstanceState): Promise<SendOutcome> {
  const mp = multipartOf(req);
  const body: Json = mp ? { ...mp.fields } : bodyOf(req);
  validateBody(body, { number: NUMBER, audio: { type: 'string' }, ...COMMON });
  const audio = body['audio'];
  if (!mp?.file && !isURL(audio) && !isBase64(audio)) {
    throw badRequest('Owned media must be a url, base64, or valid file with buffer');
  }
  const bytes = mp?.file ? mp.file.buffer : isURL(audio) ? (await download(audio)).bytes : Buffer.from(audio as string, 'base64');
  // Quoting is not passed on for voice notes (audioWhatsapp builds its own options).
  return performSend(ctx, inst, {
    ...common(body),
    quoted: undefined,
    kind: 'audio',
    media: bytes,
    content: ({ id, ts, contextInfo }) =>
      P.audioMessage({ label: id, fileLength: bytes.length || fakeMediaSize(id), timestamp: ts, ptt: true, contextInfo }),
  });
}

export function registerMessageRoutes(app: FastifyInstance, ctx: SimContext): void {
  route(app, ctx, 'POST', '/message/sendText/:instanceName', 201, async (req, reply, inst) => {
    const body = bodyOf(req);
    validateBody(body, { number: NUMBER, text: { type: 'string', required: true }, linkPreview: { type: 'boolean' }, ...COMMON });
    const text = body['text'] as string;
    if (!text || text.trim().length === 0) throw badRequest('Text is required');
    const out = await performSend(ctx, inst as InstanceState, {
      ...common(body),
      kind: 'text',
      content: ({ contextInfo }) => P.extendedTextMessage(text, contextInfo),
    });
    return answer(reply, req, out);
  });
  route(app, ctx, 'POST', '/message/sendMedia/:instanceName', 201, async (req, reply, inst) =>
    answer(reply, req, await sendMedia(ctx, req, inst as InstanceState)),
  );
  route(app, ctx, 'POST', '/message/sendWhatsAppAudio/:instanceName', 201, async (req, reply, inst) =>
    answer(reply, req, await sendAudio(ctx, req, inst as InstanceState)),
  );
}
