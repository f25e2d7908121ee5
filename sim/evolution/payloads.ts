/**
 * Message content as Baileys hands it to Evolution (proto.IMessage after deserializeMessageBuffers),
 * before Evolution's own normalisations (see message-raw.ts). Fields follow proto field order, bytes
 * and 64-bit numbers use the shapes of proto-json.ts. Exported so tests can build fixtures.
 *
 * Media fields are derived from a label (normally the message id), so the hashes, keys and
 * fileLength of a message are stable and agree with the fake bytes served for it.
 */
import { bytesJson, derivedBytes, longJson } from './proto-json.js';

type Json = Record<string, unknown>;

/** messageContextInfo as recent WhatsApp clients attach it to every message. */
export function messageContextInfo(label: string, withSecret = false): Json {
  const info: Json = { deviceListMetadata: {}, deviceListMetadataVersion: 2 };
  if (withSecret) info['messageSecret'] = bytesJson(derivedBytes(`secret:${label}`, 32));
  return info;
}

export function textMessage(text: string, label?: string): Json {
  return label ? { conversation: text, messageContextInfo: messageContextInfo(label) } : { conversation: text };
}

/** What a reply (or a mention) carries: the quoted message's id, author and content. */
export function quoteContext(quoted: { id: string; participant: string; message: Json; remoteJid?: string }): Json {
  const ctx: Json = { stanzaId: quoted.id, participant: quoted.participant };
  if (quoted.remoteJid) ctx['remoteJid'] = quoted.remoteJid;
  ctx['quotedMessage'] = quoted.message;
  return ctx;
}

export function extendedTextMessage(text: string, contextInfo?: Json, label?: string): Json {
  const ext: Json = { text };
  if (contextInfo) ext['contextInfo'] = contextInfo;
  const m: Json = { extendedTextMessage: ext };
  if (label) m['messageContextInfo'] = messageContextInfo(label);
  return m;
}

export interface MediaOptions {
  /** Seed for hashes/keys/paths; the message id, so the fake bytes match. */
  label: string;
  fileLength: number;
  /** Epoch seconds (mediaKeyTimestamp). */
  timestamp: number;
  mimetype?: string;
  caption?: string;
  contextInfo?: Json;
}

function cdnPath(label: string, kind: string): string {
  const d = derivedBytes(`path:${label}`, 12).toString('hex');
  const n1 = parseInt(d.slice(0, 8), 16);
  const n2 = parseInt(d.slice(8, 16), 16);
  return `/v/t62.${kind}/${n1}_${n2}_n.enc?ccb=11-4&oh=01_Q5A${d.slice(0, 12)}&oe=${d.slice(12, 20).toUpperCase()}&_nc_sid=5e03e0`;
}

/** The fields every downloadable media message shares, in proto order around its own fields. */
function mediaCore(o: MediaOptions, kind: string, mimetype: string): { head: Json; tail: Json } {
  const path = cdnPath(o.label, kind);
  return {
    head: { url: `https://mmg.whatsapp.net${path}&mms3=true`, mimetype },
    tail: {
      fileSha256: bytesJson(derivedBytes(`sha:${o.label}`, 32)),
      fileLength: longJson(o.fileLength, true),
      mediaKey: bytesJson(derivedBytes(`key:${o.label}`, 32)),
      fileEncSha256: bytesJson(derivedBytes(`enc:${o.label}`, 32)),
      directPath: path,
      mediaKeyTimestamp: longJson(o.timestamp),
    },
  };
}

function withContext(body: Json, ctx?: Json): Json {
  if (ctx) body['contextInfo'] = ctx;
  return body;
}

export function imageMessage(o: MediaOptions & { height?: number; width?: number }): Json {
  const { head, tail } = mediaCore(o, '7118-24', o.mimetype ?? 'image/jpeg');
  const caption = o.caption !== undefined ? { caption: o.caption } : {};
  return {
    imageMessage: withContext(
      { ...head, ...caption, ...tail, height: o.height ?? 1280, width: o.width ?? 960 },
      o.contextInfo,
    ),
  };
}

export function videoMessage(o: MediaOptions & { seconds?: number }): Json {
  const { head, tail } = mediaCore(o, '7161-24', o.mimetype ?? 'video/mp4');
  const caption = o.caption !== undefined ? { caption: o.caption } : {};
  return {
    videoMessage: withContext(
      { ...head, ...tail, seconds: o.seconds ?? 7, ...caption, gifPlayback: false, height: 848, width: 480 },
      o.contextInfo,
    ),
  };
}

/** Audio: a voice note is the same message with ptt:true (Evolution keeps messageType audioMessage). */
export function audioMessage(o: MediaOptions & { ptt?: boolean; seconds?: number }): Json {
  const { head, tail } = mediaCore(o, '7114-24', o.mimetype ?? 'audio/ogg; codecs=opus');
  return {
    audioMessage: withContext({ ...head, ...tail, seconds: o.seconds ?? 4, ptt: o.ptt ?? false }, o.contextInfo),
  };
}

/**
 * A document. With a caption, WhatsApp clients wrap it in documentWithCaptionMessage (a
 * FutureProofMessage), which Evolution later unwraps.
 */
export function documentMessage(o: MediaOptions & { fileName?: string; pageCount?: number; wrapCaption?: boolean }): Json {
  const { head, tail } = mediaCore(o, '7119-24', o.mimetype ?? 'application/pdf');
  const fileName = o.fileName ?? 'document.pdf';
  const doc: Json = {
    ...head,
    title: fileName.replace(/\.[^.]*$/, ''),
    fileSha256: tail['fileSha256'],
    fileLength: tail['fileLength'],
    pageCount: o.pageCount ?? 1,
    mediaKey: tail['mediaKey'],
    fileName,
    fileEncSha256: tail['fileEncSha256'],
    directPath: tail['directPath'],
    mediaKeyTimestamp: tail['mediaKeyTimestamp'],
  };
  if (o.contextInfo) doc['contextInfo'] = o.contextInfo;
  if (o.caption === undefined) return { documentMessage: doc };
  doc['caption'] = o.caption;
  // Evolution's own sendMedia sets the caption on a plain documentMessage (no wrapper).
  if (o.wrapCaption === false) return { documentMessage: doc };
  return { documentWithCaptionMessage: { message: { documentMessage: doc } } };
}

export function stickerMessage(o: MediaOptions): Json {
  const { head, tail } = mediaCore(o, '15575-24', o.mimetype ?? 'image/webp');
  return {
    stickerMessage: withContext(
      { ...head, ...tail, height: 512, width: 512, isAnimated: false, isAvatar: false, isAiSticker: false, isLottie: false },
      o.contextInfo,
    ),
  };
}

export function locationMessage(lat: number, lng: number, name?: string, address?: string): Json {
  const loc: Json = { degreesLatitude: lat, degreesLongitude: lng };
  if (name) loc['name'] = name;
  if (address) loc['address'] = address;
  return { locationMessage: loc };
}

/** A shared contact card; the vcard carries waid=<digits> the way WhatsApp writes it. */
export function contactMessage(displayName: string, phoneDigits: string): Json {
  const vcard =
    `BEGIN:VCARD\nVERSION:3.0\nN:;${displayName};;;\nFN:${displayName}\n` +
    `TEL;type=CELL;type=VOICE;waid=${phoneDigits}:+${phoneDigits}\nEND:VCARD`;
  return { contactMessage: { displayName, vcard } };
}

export function reactionMessage(
  target: { remoteJid: string; fromMe: boolean; id: string; participant?: string },
  emoji: string,
  senderTimestampMs: number,
): Json {
  const key: Json = { remoteJid: target.remoteJid, fromMe: target.fromMe, id: target.id };
  if (target.participant) key['participant'] = target.participant;
  return { reactionMessage: { key, text: emoji, senderTimestampMs: longJson(senderTimestampMs) } };
}

/** Polls carry their secret in messageContextInfo: votes cannot be decrypted without it. */
export function pollCreationMessageV3(name: string, options: string[], label: string, selectableCount = 1): Json {
  return {
    messageContextInfo: messageContextInfo(label, true),
    pollCreationMessageV3: {
      name,
      options: options.map((optionName) => ({ optionName })),
      selectableOptionsCount: selectableCount,
    },
  };
}
