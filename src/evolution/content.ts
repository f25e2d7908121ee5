import type { MediaRef, MessageContent } from '../domain/message.js';
import { base64DecodedBytes, formatBytes, WHATSAPP_MAX_MEDIA_BYTES } from './media-limits.js';

/**
 * Turns a Baileys `message` object (as Evolution emits it) into text a support agent can read.
 * Nothing is dropped for "having no body": a type evosync does not know still becomes a visible
 * placeholder, because a silently missing customer message is the worst outcome for a desk.
 */
type Obj = Record<string, unknown>;

const asObj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** Wrappers that only carry another message inside. */
const WRAPPERS = [
  'ephemeralMessage', 'viewOnceMessage', 'viewOnceMessageV2', 'viewOnceMessageV2Extension',
  'documentWithCaptionMessage', 'editedMessage', 'deviceSentMessage',
] as const;

/** Keys Evolution or Baileys add to `message` that are not the content itself. */
const NON_CONTENT = new Set(['messageContextInfo', 'base64', 'mediaUrl', 'speechToText', 'senderKeyDistributionMessage']);

export function unwrapMessage(message: Obj): Obj {
  let current = message;
  for (let depth = 0; depth < 5; depth++) {
    const wrapperKey = WRAPPERS.find((k) => asObj(current[k]));
    if (!wrapperKey) return current;
    const inner = asObj(asObj(current[wrapperKey])?.['message']);
    if (!inner) return current;
    current = { ...inner, ...(current['base64'] ? { base64: current['base64'] } : {}) };
  }
  return current;
}

function contentKey(message: Obj, hint: string | null | undefined): string | null {
  // Own keys only: `in` would also find "constructor" or "__proto__" on Object.prototype, and a
  // messageType of "__proto__" would then read the prototype as the message body.
  if (hint && hint !== 'unknown' && Object.hasOwn(message, hint)) return hint;
  for (const k of Object.keys(message)) if (!NON_CONTENT.has(k)) return k;
  return null;
}

const MEDIA: Record<string, MediaRef['kind']> = {
  imageMessage: 'image',
  videoMessage: 'video',
  ptvMessage: 'video',
  audioMessage: 'audio',
  documentMessage: 'document',
  stickerMessage: 'sticker',
};

const MEDIA_LABEL: Record<MediaRef['kind'], string> = {
  image: 'Image', video: 'Video', audio: 'Audio', voice: 'Voice message', document: 'Document', sticker: 'Sticker',
};

export function extractContent(rawMessage: Obj | null | undefined, messageType: string | null | undefined, contextInfo: Obj | null | undefined): MessageContent {
  const message = unwrapMessage(rawMessage ?? {});
  const key = contentKey(message, messageType);
  const body = key ? asObj(message[key]) : null;
  const quotedId = str(asObj(contextInfo)?.['stanzaId']) ?? str(asObj(body?.['contextInfo'])?.['stanzaId']);
  const type = key ?? messageType ?? 'unknown';

  if (key === 'conversation') return { type, text: str(message['conversation']) ?? '', media: null, quotedId };
  if (key === 'extendedTextMessage') return { type, text: str(body?.['text']) ?? '', media: null, quotedId };

  const mediaKind = key && Object.hasOwn(MEDIA, key) ? MEDIA[key] : undefined;
  if (mediaKind && body) {
    const kind: MediaRef['kind'] = mediaKind === 'audio' && body['ptt'] === true ? 'voice' : mediaKind;
    const caption = str(body['caption']);
    const fileName = str(body['fileName']) ?? (kind === 'document' ? str(body['title']) : null);
    const media: MediaRef = { kind, mimetype: str(body['mimetype']), fileName, sizeBytes: longNumber(body['fileLength']) };
    keepInline(media, message['base64']);
    return { type, text: caption ?? '', media, quotedId };
  }

  // A reaction is shown as a reply to the message it reacts to, as Evolution's own integration does.
  const reactedId = key === 'reactionMessage' ? str(asObj(body?.['key'])?.['id']) : null;
  return { type, text: renderSpecial(key, body, message), media: null, quotedId: quotedId ?? reactedId };
}

/**
 * Keeps the inline file (webhook base64 mode) on the media reference, so it is committed to the
 * ledger with the message before ingest acknowledges it. Only media messages reach this, so text
 * pays nothing; the cost is one length check, never a decode.
 */
function keepInline(media: MediaRef, base64: unknown): void {
  if (typeof base64 !== 'string' || base64.length === 0) return;
  const bytes = base64DecodedBytes(base64);
  // Nothing larger than WhatsApp's largest media can be genuine, and it would bloat the ledger.
  if (bytes > WHATSAPP_MAX_MEDIA_BYTES) {
    media.inlineDropped = `the inline file (${formatBytes(bytes)}) is larger than WhatsApp's largest media (${formatBytes(WHATSAPP_MAX_MEDIA_BYTES)})`;
    return;
  }
  media.base64 = base64;
}

/** Baileys 64-bit numbers arrive as numbers, decimal strings or protobuf Longs `{low, high}`. */
function longNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  const o = asObj(v);
  if (o && typeof o['low'] === 'number' && typeof o['high'] === 'number') return o['high'] * 2 ** 32 + (o['low'] >>> 0);
  return null;
}

function renderSpecial(key: string | null, body: Obj | null, message: Obj): string {
  if (key?.startsWith('pollCreationMessage')) {
    const options = Array.isArray(body?.['options']) ? (body['options'] as unknown[]) : [];
    const names = options.map((o) => str(asObj(o)?.['optionName'])).filter(Boolean);
    return [`📊 Poll: ${str(body?.['name']) ?? ''}`, ...names.map((n) => `• ${n}`)].join('\n');
  }
  switch (key) {
    case 'locationMessage':
    case 'liveLocationMessage': {
      const lat = body?.['degreesLatitude'];
      const lng = body?.['degreesLongitude'];
      const name = [str(body?.['name']), str(body?.['address'])].filter(Boolean).join(', ');
      const link = typeof lat === 'number' && typeof lng === 'number' ? `https://maps.google.com/?q=${lat},${lng}` : '';
      const title = key === 'liveLocationMessage' ? '📍 Live location' : '📍 Location';
      return [title, name, str(body?.['caption']), link].filter(Boolean).join('\n');
    }
    case 'contactMessage':
      return renderContact(body);
    case 'contactsArrayMessage': {
      const contacts = Array.isArray(body?.['contacts']) ? (body['contacts'] as unknown[]) : [];
      return contacts.map((c) => renderContact(asObj(c))).join('\n\n') || '👤 Contacts';
    }
    case 'reactionMessage': {
      const emoji = str(body?.['text']);
      return emoji ? `Reacted ${emoji}` : 'Removed a reaction';
    }
    case 'listResponseMessage': {
      const choice = str(body?.['title']) ?? str(asObj(body?.['singleSelectReply'])?.['selectedRowId']) ?? 'List reply';
      return [choice, str(body?.['description'])].filter(Boolean).join('\n');
    }
    case 'buttonsResponseMessage':
      return str(body?.['selectedDisplayText']) ?? str(body?.['selectedButtonId']) ?? 'Button reply';
    case 'templateButtonReplyMessage':
      return str(body?.['selectedDisplayText']) ?? str(body?.['selectedId']) ?? 'Button reply';
    case 'interactiveResponseMessage':
      return str(asObj(body?.['body'])?.['text']) ?? nativeFlowChoice(body) ?? 'Interactive reply';
    case 'listMessage':
    case 'buttonsMessage':
    case 'templateMessage':
    case 'interactiveMessage':
      return str(body?.['description']) ?? str(body?.['contentText']) ?? str(asObj(body?.['body'])?.['text']) ?? `[${key}]`;
    case 'groupInviteMessage':
      return [`👥 Group invitation: ${str(body?.['groupName']) ?? 'a group'}`, str(body?.['caption'])].filter(Boolean).join('\n');
    case 'eventMessage':
      return [`📅 Event: ${str(body?.['name']) ?? ''}`, str(body?.['description'])].filter(Boolean).join('\n');
    case 'productMessage': {
      const product = asObj(body?.['product']);
      return [`🛍️ Product: ${str(product?.['title']) ?? ''}`, str(product?.['description'])].filter(Boolean).join('\n');
    }
    case 'orderMessage':
      return [`🧾 Order${str(body?.['orderTitle']) ? `: ${str(body?.['orderTitle'])}` : ''}`, str(body?.['message'])].filter(Boolean).join('\n');
    default: {
      const fallback = str(message['conversation']);
      return fallback ?? `[Unsupported WhatsApp message: ${key ?? 'unknown'}]`;
    }
  }
}

/** A WhatsApp Flow / native-flow answer carries the choice as a JSON string. */
function nativeFlowChoice(body: Obj | null): string | null {
  const params = str(asObj(body?.['nativeFlowResponseMessage'])?.['paramsJson']);
  if (!params) return null;
  try {
    const p = asObj(JSON.parse(params));
    return str(p?.['title']) ?? str(p?.['description']) ?? str(p?.['id']) ?? params;
  } catch {
    return params;
  }
}

function renderContact(body: Obj | null): string {
  const name = str(body?.['displayName']) ?? 'Contact';
  const vcard = str(body?.['vcard']) ?? '';
  const phones = [...vcard.matchAll(/TEL[^:]*:([+\d\s()-]+)/g)].map((m) => (m[1] ?? '').trim()).filter(Boolean);
  return [`👤 ${name}`, ...phones].join('\n');
}

/** How a media message is named in Chatwoot when its file cannot be attached. */
export function mediaLabel(media: MediaRef): string {
  return `[${MEDIA_LABEL[media.kind]}${media.fileName ? `: ${media.fileName}` : ''}]`;
}
