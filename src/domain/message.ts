/**
 * The one internal event type every ingest source produces: a WhatsApp message, normalised, with
 * the chat identity already resolved to its canonical key. Whatever Evolution version, transport or
 * LID convention delivered it, the ledger and the lanes only ever see this shape.
 */
export type IngestSource = 'webhook' | 'rabbitmq' | 'reconcile';

export type Direction = 'to_chatwoot' | 'to_whatsapp';

export interface MediaRef {
  /** image | video | audio | voice | document | sticker */
  kind: 'image' | 'video' | 'audio' | 'voice' | 'document' | 'sticker';
  mimetype: string | null;
  fileName: string | null;
  /** Size WhatsApp declared for the file (`fileLength`), in bytes; null when the payload had none. */
  sizeBytes?: number | null;
  /**
   * The file itself, base64, when Evolution sent it inline (webhook base64 mode). Kept in the
   * ledger with the message because it may be the only copy: Evolution may not store the message,
   * and WhatsApp's CDN forgets media after a while. Absent otherwise; the file is then fetched
   * from Evolution at delivery.
   */
  base64?: string;
  /** Why an inline file was not kept (too big to keep), so delivery can say so if it is not fetched. */
  inlineDropped?: string;
}

export interface MessageContent {
  /** Evolution's messageType, e.g. conversation, imageMessage. */
  type: string;
  /** Text to show: the message text, a caption, or a readable rendering (location, poll, …). */
  text: string;
  media: MediaRef | null;
  /** WhatsApp id of the quoted message, when this one is a reply. */
  quotedId: string | null;
}

export interface Sender {
  jid: string;
  phone: string | null;
  name: string | null;
  /** The sender's LID when the event carried one (participant / participantAlt): an identity fact. */
  lid?: string | null;
}

export interface ChatMessage {
  instance: string;
  /** WhatsApp message id (key.id). With the instance it is the idempotency key. */
  waId: string;
  /** Canonical chat key: phone JID when known, else the LID; the group JID for groups. */
  chat: string;
  /** Phone digits of the chat (1:1), when known. */
  chatPhone: string | null;
  /** LID JID of the chat, when the event carried one. */
  chatLid: string | null;
  isGroup: boolean;
  /** Typed on the business phone (or sent by another API client): synced as outgoing. */
  fromMe: boolean;
  /** WhatsApp time, epoch seconds. */
  timestamp: number;
  /** Contact's profile name (1:1) or the group sender's name. */
  pushName: string | null;
  /** The participant who wrote a group message. */
  sender: Sender | null;
  content: MessageContent;
  /** Evolution event it came from. */
  event: 'messages.upsert' | 'send.message';
}
