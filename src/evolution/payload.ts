import { z } from 'zod';
import { isKeyText } from '../lib/key-text.js';

/**
 * Schemas of what Evolution API sends (reference: evolution-api.md §1.3, §1.4, §2). They check
 * only what evosync relies on and let everything else through, because Evolution adds fields
 * between versions (`remoteJidAlt`, `addressingMode`, 2.3.7's spread `extra`, Chatwoot ids…).
 */

/**
 * Baileys timestamps are numbers in events, but a Long `{low, high}` or a string also occurs.
 * Bounded: seconds or milliseconds since 1970 up to the year 2286 (1e13). A larger number is no
 * time WhatsApp sends, and PostgreSQL's bigint would refuse the one it becomes (1e300, say), which
 * would fail the whole batch it came with on every retry.
 */
const MAX_TIMESTAMP = 1e13;
const Timestamp = z
  .union([
    z.number().finite().nonnegative(),
    z.string().regex(/^\d{1,16}$/).transform(Number),
    z.object({ low: z.number(), high: z.number() }).transform((l) => l.high * 2 ** 32 + (l.low >>> 0)),
  ])
  .refine((t) => t >= 0 && t <= MAX_TIMESTAMP, 'must be a time in seconds or milliseconds since 1970');

/**
 * A message id, a JID or an instance name: it becomes a key of the ledger, so it must be text
 * every store accepts as such. PostgreSQL refuses a NUL character in text and an unpaired
 * surrogate in JSON, and one such id would fail the whole batch it came with, again on every retry.
 */
const Ident = (min: number, max: number) =>
  z.string().min(min).max(max).refine(isKeyText, 'must not contain control characters or unpaired surrogates');

/**
 * A JSON object whose content is read later, field by field, by code that expects anything
 * (content.ts). Checked for being an object only: `z.record` also checked every key (always a
 * string in parsed JSON) and copied the object, a fifth of the time a message's normalisation took.
 */
const JsonObject = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be an object');

export const MessageKeySchema = z.looseObject({
  id: Ident(1, 256),
  remoteJid: Ident(3, 256),
  fromMe: z.boolean().optional().default(false),
  participant: Ident(0, 256).nullish(),
  remoteJidAlt: Ident(0, 256).nullish(),
  participantAlt: Ident(0, 256).nullish(),
  addressingMode: z.string().nullish(),
  senderPn: Ident(0, 256).nullish(),
  previousRemoteJid: Ident(0, 256).nullish(),
  /** 2.3.2–2.3.4 (Baileys 7 rc.3): a group sender's phone, before it was named participantAlt. */
  participantPn: Ident(0, 256).nullish(),
});

export const MessageRawSchema = z.looseObject({
  key: MessageKeySchema,
  pushName: z.string().nullish(),
  message: JsonObject.nullish(),
  contextInfo: JsonObject.nullish(),
  messageType: z.string().nullish(),
  messageTimestamp: Timestamp,
  status: z.string().nullish(),
  source: z.string().nullish(),
});
export type MessageRaw = z.infer<typeof MessageRawSchema>;

/** The envelope shared by the webhook and RabbitMQ transports (webhook adds `destination`). */
export const EnvelopeSchema = z.looseObject({
  event: Ident(1, 100),
  instance: Ident(1, 200),
  data: z.unknown(),
  date_time: z.string().nullish(),
  sender: z.string().nullish(),
  server_url: z.string().nullish(),
  destination: z.string().nullish(),
  apikey: z.string().nullish(),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

export const ConnectionUpdateSchema = z.looseObject({
  state: z.string(),
  statusReason: z.number().nullish(),
  wuid: z.string().nullish(),
});

/**
 * A protocolMessage as MESSAGES_EDITED / SEND_MESSAGE_UPDATE carry it (reference §2.1 step 3, §2.5):
 * the proto instance JSON.stringify'd, so the type is an enum NAME and timestampMs a string, though
 * a plain object with the numeric enum is accepted too. Its key is written from the sender's side.
 */
export const ProtocolMessageSchema = z.looseObject({
  key: z.looseObject({
    id: z.string().min(1).max(256),
    remoteJid: z.string().max(256).nullish(),
    fromMe: z.boolean().nullish(),
    participant: z.string().nullish(),
  }),
  type: z.union([z.string(), z.number()]).nullish(),
  editedMessage: JsonObject.nullish(),
  timestampMs: Timestamp.nullish(),
});
export type ProtocolMessage = z.infer<typeof ProtocolMessageSchema>;

/**
 * MESSAGES_DELETE (reference §2.4): a remote revoke carries the Baileys key itself (2.4 adds
 * `status: 'DELETED'`); a delete through the API carries the whole stored row, key inside.
 */
export const DeletedRowSchema = z.looseObject({
  key: MessageKeySchema,
  messageTimestamp: Timestamp.nullish(),
  status: z.string().nullish(),
});
