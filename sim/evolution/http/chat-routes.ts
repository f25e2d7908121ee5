/**
 * /chat/* endpoints used for reconciliation and agent actions: findMessages (see find-messages.ts),
 * getBase64FromMediaMessage, deleteMessageForEveryone, markMessageAsRead, updateMessage. Status
 * codes are Evolution's (201 for most POSTs, 200 for findMessages/updateMessage).
 */
import type { FastifyInstance } from 'fastify';
import { inBackground, type SimContext } from '../context.js';
import { EVENT } from '../events.js';
import { findMessages, QueryError } from '../find-messages.js';
import type { InstanceState } from '../instances.js';
import { MEDIA_TYPES, mimeExtension } from '../media.js';
import { apiDeletePayload, protocolMessagePayload } from '../message-raw.js';
import type { MessageKey } from '../types.js';
import { createJid, isGroupJid, messageId } from '../wa-ids.js';
import { badRequest, EvoError, internal, notFound, plainError } from './errors.js';
import { bodyOf, route } from './server.js';
import { validateBody } from './validate.js';

type Json = Record<string, unknown>;

/** A WAMessage Evolution returns as-is: protobufjs toJSON (enums by name, 64-bit as strings). */
function sentProto(ctx: SimContext, inst: InstanceState, jid: string, protocolMessage: Json): Json {
  const key: Json = { remoteJid: jid, fromMe: true, id: messageId(ctx.rng.ids, 'web') };
  if (isGroupJid(jid)) key['participant'] = inst.wuid;
  return { key, message: { protocolMessage }, messageTimestamp: String(Math.floor(ctx.clock() / 1000)), status: 'PENDING' };
}

function getBase64(ctx: SimContext, inst: InstanceState, body: Json): Json {
  const m = body['message'] as Json | undefined;
  const key = (m?.['key'] ?? {}) as { id?: string };
  let keyId = key.id;
  // A proxy or restart in front of Evolution: fails before Evolution sees the request.
  const early = keyId ? ctx.media.downloadFault(keyId) : null;
  if (early?.kind === 'http') throw plainError(`HTTP ${early.status} from the proxy`, early.status);
  let message: Json;
  const given = m?.['message'] as Json | undefined;
  if (given) message = given;
  else {
    const row = keyId && ctx.saveNewMessages ? ctx.store.byKeyId(inst.name, keyId) : undefined;
    if (!row) throw badRequest('Message not found');
    message = row.msg.message;
    keyId = row.msg.key.id;
  }
  for (const wrapper of ['ephemeralMessage', 'documentWithCaptionMessage', 'viewOnceMessage', 'viewOnceMessageV2']) {
    const inner: Json | undefined = (message[wrapper] as { message?: Json } | undefined)?.message;
    if (inner) message = inner;
  }
  if ('messageContextInfo' in message && Object.keys(message).length === 1) throw badRequest('The message is messageContextInfo');
  const mediaType = MEDIA_TYPES.find((t) => message?.[t]);
  if (!mediaType) throw badRequest('The message is not of the media type');
  const media = message[mediaType] as Json;
  // Baileys' download error (a Boom), as Evolution's catch-all turns it into a 400.
  if (early?.kind === 'expired') throw badRequest(`Error: Failed to fetch stream from https://mmg.whatsapp.net${String(media['directPath'] ?? '')}`);
  const bytes = ctx.media.bytes(keyId ?? '');
  const mimetype = media['mimetype'] as string | undefined;
  const ext = mimeExtension(mimetype ?? '');
  return {
    mediaType,
    fileName: (media['fileName'] as string | undefined) || `${keyId}.${String(ext)}`,
    caption: media['caption'],
    size: { fileLength: media['fileLength'], height: media['height'], width: media['width'] },
    mimetype,
    base64: bytes.toString('base64'),
    buffer: null,
  };
}

function deleteForEveryone(ctx: SimContext, inst: InstanceState, body: Json): Json {
  validateBody(body, {
    id: { type: 'string', required: true, notEmpty: true },
    fromMe: { type: 'boolean', required: true },
    remoteJid: { type: 'string', required: true, notEmpty: true },
    participant: { type: 'string', notEmpty: true },
  });
  if (inst.connection !== 'open') throw internal('Error while deleting message for everyone', 'Error: Connection Closed');
  const del: Json = { remoteJid: body['remoteJid'], fromMe: body['fromMe'], id: body['id'] };
  if (body['participant']) del['participant'] = body['participant'];
  const response = sentProto(ctx, inst, String(body['remoteJid']), { key: del, type: 'REVOKE' });
  // Looked up by key id in EVERY instance (no instanceId filter in this code path).
  const row = ctx.store.byKeyIdAnyInstance(String(body['id']));
  if (!row) return response;
  if (ctx.logicalDelete) {
    row.msg.key = { ...row.msg.key, deleted: true } as MessageKey;
    row.msg.status = 'DELETED';
    row.updates.push({ status: 'DELETED' });
  } else {
    ctx.store.remove(row);
  }
  const payload = apiDeletePayload({ ...row.msg, participant: null, instanceId: row.instanceId });
  inBackground(ctx, ctx.dispatcher.emit(inst, EVENT.MESSAGES_DELETE, payload));
  return response;
}

function updateMessage(ctx: SimContext, inst: InstanceState, body: Json): Json {
  validateBody(body, { number: { type: 'string', notEmpty: true }, text: { type: 'string', notEmpty: true }, key: { type: 'object' } });
  const key = (body['key'] ?? {}) as { id?: string; remoteJid?: string; fromMe?: boolean };
  const text = String(body['text'] ?? '');
  const jid = createJid(String(body['number'] ?? ''));
  const old = key.id ? ctx.store.byKeyId(inst.name, key.id) : undefined;
  const type = old?.msg.messageType;
  if (!old || !type || !['conversation', 'extendedTextMessage', 'imageMessage', 'videoMessage'].includes(type)) {
    throw badRequest('Message not compatible');
  }
  if (old.msg.key.remoteJid !== jid) throw badRequest('RemoteJid does not match');
  if (inst.connection !== 'open') throw new EvoError(500, 'Internal Server Error', 'Connection Closed');
  const isText = type === 'conversation' || type === 'extendedTextMessage';
  const edited = isText
    ? { extendedTextMessage: { text } }
    : { [type]: { ...(old.msg.message[type] as Json), caption: text } };
  const protocol = protocolMessagePayload(
    { remoteJid: key.remoteJid ?? jid, fromMe: key.fromMe ?? true, id: key.id ?? '' },
    'MESSAGE_EDIT',
    edited,
    ctx.clock(),
  );
  const response = sentProto(ctx, inst, jid, protocol);
  inBackground(ctx, ctx.dispatcher.emit(inst, EVENT.SEND_MESSAGE_UPDATE, protocol));
  const row = ctx.store.byKeyIdAnyInstance(key.id ?? '');
  if (!row) throw notFound('Message not found');
  if (isText) row.msg.message = { ...old.msg.message, conversation: text };
  else row.msg.message = { ...old.msg.message, [type]: { ...(old.msg.message[type] as Json), caption: text } };
  row.msg.status = 'EDITED';
  row.msg.messageTimestamp = Math.floor(ctx.clock() / 1000);
  row.updates.push({ status: 'EDITED' });
  ctx.store.touch(row.msg.instance);
  return response;
}

export function registerChatRoutes(app: FastifyInstance, ctx: SimContext): void {
  route(app, ctx, 'POST', '/chat/findMessages/:instanceName', 200, async (req, _reply, inst) => {
    const i = inst as InstanceState;
    try {
      return findMessages(ctx.saveNewMessages ? ctx.store.sortedDesc(i.name) : [], bodyOf(req), ctx.convention);
    } catch (err) {
      if (err instanceof QueryError) {
        throw err.status === 400 ? badRequest(...(err.messages as unknown[])) : new EvoError(500, 'Internal Server Error', err.messages);
      }
      throw err;
    }
  });
  route(app, ctx, 'POST', '/chat/getBase64FromMediaMessage/:instanceName', 201, async (req, _reply, inst) =>
    getBase64(ctx, inst as InstanceState, bodyOf(req)),
  );
  route(app, ctx, 'DELETE', '/chat/deleteMessageForEveryone/:instanceName', 201, async (req, _reply, inst) =>
    deleteForEveryone(ctx, inst as InstanceState, bodyOf(req)),
  );
  route(app, ctx, 'POST', '/chat/updateMessage/:instanceName', 200, async (req, _reply, inst) =>
    updateMessage(ctx, inst as InstanceState, bodyOf(req)),
  );
  route(app, ctx, 'POST', '/chat/markMessageAsRead/:instanceName', 201, async (req, _reply, inst) => {
    const body = bodyOf(req);
    const list = body['readMessages'];
    if (!Array.isArray(list)) throw badRequest('instance requires property "readMessages"');
    if (list.length < 1) throw badRequest('readMessages does not meet minimum length of 1');
    for (const [i, item] of list.entries()) {
      const r = (item ?? {}) as Json;
      for (const p of ['id', 'fromMe', 'remoteJid']) if (r[p] === undefined) throw badRequest(`readMessages[${i}] requires property "${p}"`);
    }
    if ((inst as InstanceState).connection !== 'open') throw internal('Read messages fail', 'Error: Connection Closed');
    return { message: 'Read messages', read: 'success' };
  });
}
