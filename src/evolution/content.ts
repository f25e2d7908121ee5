import type { MediaRef, MessageContent } from '../domain/message.js';

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
  if (hint && hint !== 'unknown' && hint in message) return hint;
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

  const mediaKind = key ? MEDIA[key] : undefined;
  if (mediaKind && body) {
    const kind: MediaRef['kind'] = mediaKind === 'audio' && body['ptt'] === true ? 'voice' : mediaKind;
    const caption = str(body['caption']);
    const fileName = str(body['fileName']) ?? str(body['title']);
    const media: MediaRef = { kind, mimetype: str(body['mimetype']), fileName, base64Available: typeof message['base64'] === 'string' };
    return { type, text: caption ?? '', media, quotedId };
  }

  return { type, text: renderSpecial(key, body, message), media: null, quotedId };
}

function renderSpecial(key: string | null, body: Obj | null, message: Obj): string {
  switch (key) {
    case 'locationMessage':
    case 'liveLocationMessage': {
      const lat = body?.['degreesLatitude'];
      const lng = body?.['degreesLongitude'];
      const name = [str(body?.['name']), str(body?.['address'])].filter(Boolean).join(', ');
      const link = typeof lat === 'number' && typeof lng === 'number' ? `https://maps.google.com/?q=${lat},${lng}` : '';
      return ['📍 Location', name, link].filter(Boolean).join('\n');
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
    case 'pollCreationMessage':
    case 'pollCreationMessageV2':
    case 'pollCreationMessageV3': {
      const options = Array.isArray(body?.['options']) ? (body['options'] as unknown[]) : [];
      const names = options.map((o) => str(asObj(o)?.['optionName'])).filter(Boolean);
      return [`📊 Poll: ${str(body?.['name']) ?? ''}`, ...names.map((n) => `• ${n}`)].join('\n');
    }
    case 'listResponseMessage':
      return str(body?.['title']) ?? str(asObj(body?.['singleSelectReply'])?.['selectedRowId']) ?? 'List reply';
    case 'buttonsResponseMessage':
      return str(body?.['selectedDisplayText']) ?? str(body?.['selectedButtonId']) ?? 'Button reply';
    case 'templateButtonReplyMessage':
      return str(body?.['selectedDisplayText']) ?? 'Button reply';
    case 'interactiveResponseMessage':
      return str(asObj(body?.['body'])?.['text']) ?? 'Interactive reply';
    case 'listMessage':
    case 'buttonsMessage':
    case 'templateMessage':
    case 'interactiveMessage':
      return str(body?.['description']) ?? str(body?.['contentText']) ?? str(asObj(body?.['body'])?.['text']) ?? `[${key}]`;
    default: {
      const fallback = str(message['conversation']);
      return fallback ?? `[Unsupported WhatsApp message: ${key ?? 'unknown'}]`;
    }
  }
}

function renderContact(body: Obj | null): string {
  const name = str(body?.['displayName']) ?? 'Contact';
  const vcard = str(body?.['vcard']) ?? '';
  const phones = [...vcard.matchAll(/TEL[^:]*:([+\d\s()-]+)/g)].map((m) => (m[1] ?? '').trim()).filter(Boolean);
  return [`👤 ${name}`, ...phones].join('\n');
}

/** Text shown in Chatwoot for a media message until its file is attached, or beside the caption. */
export function mediaLabel(media: MediaRef): string {
  return `[${MEDIA_LABEL[media.kind]}${media.fileName ? `: ${media.fileName}` : ''}]`;
}
