/**
 * Public types of the fake Evolution API. Others (tests, benchmarks, the demo, the chaos run) build
 * on these, so the shapes here follow the brief exactly; a few optional fields are added where the
 * reference describes a knob of real Evolution that the brief left out (marked "extension").
 */

/**
 * How LID chats appear in events (reference §2.8):
 * - '2.3.4': remoteJid rewritten to the phone (senderPn) and the LID kept as previousRemoteJid,
 *   both in the stored row and in the event.
 * - '2.3.6': the raw Baileys key, stored and emitted (remoteJid @lid, remoteJidAlt = phone,
 *   addressingMode 'lid').
 * - '2.3.7': stored raw, but the event swaps it (remoteJid = phone, remoteJidAlt = LID,
 *   addressingMode 'pn'), as 2.4.0-rc2 does.
 */
export type LidConvention = '2.3.4' | '2.3.6' | '2.3.7';

export interface EvolutionSimOptions {
  port?: number;
  host?: string;
  /** AUTHENTICATION_API_KEY. */
  apiKey?: string;
  instances?: string[];
  seed?: number;
  lidConvention?: LidConvention;
  /** SERVER_URL, copied into every envelope as server_url. */
  serverUrl?: string;
  clock?: () => number;
  /** extension: AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES (default true, as in .env.example). */
  exposeApiKey?: boolean;
  /** extension: emit CONTACTS_UPSERT/CONTACTS_UPDATE after every upsert, as Evolution does (default true). */
  contactEvents?: boolean;
  /** extension: CHATWOOT_ENABLED env switch (default true, so /chatwoot/find answers "disabled per instance"). */
  chatwootEnabled?: boolean;
  /** extension: DATABASE_DELETE_MESSAGE (default true, as in .env.example): logical delete instead of row removal. */
  logicalDelete?: boolean;
  /**
   * extension: DATABASE_SAVE_DATA_NEW_MESSAGE (default true). false = live messages are not kept in
   * the Message table: findMessages, the key-only media look-up and fetchInstances' _count do not
   * see them (the sim still keeps them internally, to build its events).
   */
  saveNewMessages?: boolean;
  /** extension: a sink for the sim's own diagnostics (default: silent). */
  log?: (msg: string) => void;
}

export interface WebhookTarget {
  url: string;
  byEvents?: boolean;
  headers?: Record<string, string>;
  base64?: boolean;
  /** Uppercase config keys (MESSAGES_UPSERT, ...); [] = all. */
  events?: string[];
}

export interface PublishFaults {
  /** Share of events stored but never published (Evolution drops). */
  dropRate: number;
  /** Share of events published twice. */
  duplicateRate: number;
  /** Publish order shuffled within windows of this many events (0 = in order). */
  reorderWindow: number;
  /** messages.update receipts may be published before their upsert. */
  receiptBeforeMessage: boolean;
}

export interface GeneratedChat {
  instance: string;
  remoteJid: string;
  phoneJid: string | null;
  lid: string | null;
  isGroup: boolean;
  name: string;
}

export type MessageKind =
  | 'text'
  | 'extendedText'
  | 'image'
  | 'video'
  | 'audio'
  | 'ptt'
  | 'document'
  | 'sticker'
  | 'location'
  | 'contact'
  | 'reaction'
  | 'poll';

export interface TrafficSpec {
  instance?: string;
  chats: number;
  messages: number;
  seed?: number;
  kinds?: Partial<Record<MessageKind, number>>;
  fromMeRate?: number;
  groupRate?: number;
  lidRate?: number;
  startTimestamp?: number;
  missingAltRate?: number;
  /**
   * extension: store each message only when publish() reaches it (Evolution stores a message when
   * WhatsApp delivers it), instead of all at generate(). Without it, findMessages (and so a
   * reconcile) sees traffic that has not happened yet. Default false.
   */
  storeOnPublish?: boolean;
}

/** A Baileys message key as Evolution stores/emits it. Field order on the wire follows Baileys. */
export interface MessageKey {
  id: string;
  remoteJid: string;
  fromMe: boolean;
  participant?: string;
  remoteJidAlt?: string;
  participantAlt?: string;
  addressingMode?: 'lid' | 'pn';
  senderPn?: string;
  previousRemoteJid?: string;
  /** extension: 2.3.4-era name of the group sender's phone (Baileys 7 rc.3). */
  participantPn?: string;
  /** Set by a logical delete (DATABASE_DELETE_MESSAGE=true). */
  deleted?: boolean;
}

export interface StoredMessage {
  /** cuid row id (Message.id). */
  id: string;
  instance: string;
  key: MessageKey;
  pushName: string;
  messageType: string;
  message: Record<string, unknown>;
  contextInfo: Record<string, unknown> | null;
  messageTimestamp: number;
  source: string;
  status: string;
  chat: GeneratedChat;
  /** The canonical chat: phone JID if known else LID; group JID for groups. */
  canonicalJid: string;
}

export interface PublishReport {
  /** Messages whose upsert was published at least once. */
  published: number;
  /** Messages whose upsert was never published. */
  dropped: number;
  /** Messages whose upsert was published twice. */
  duplicated: number;
  /** Failed webhook attempts (each retry counts). */
  webhookFailures: number;
  /** Webhook deliveries abandoned (attempts exhausted or non-retryable status). */
  webhookGaveUp: number;
  /** extension: messages.update receipts published. */
  receipts: number;
  /** extension: events lost because the AMQP channel was down. */
  rabbitmqDropped: number;
}

export interface RabbitmqSetup {
  uri: string;
  mode: 'instance' | 'global';
  /** RABBITMQ_EXCHANGE_NAME, default evolution_exchange (asserted on connect in both modes). */
  exchangeName?: string;
  /** RABBITMQ_PREFIX_KEY (global mode queue prefix). */
  prefixKey?: string;
  /** Uppercase config keys; [] or absent = all. */
  events?: string[];
  /** extension: reconnect backoff base (Evolution: 5000 ms). */
  reconnectBaseMs?: number;
  /** extension: reconnect attempts before giving up (Evolution: 10). */
  maxReconnectAttempts?: number;
}

export interface WebhookRetryOptions {
  maxAttempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

export interface SendFaults {
  /** Share of sends answered with a 5xx without sending anything. */
  errorRate?: number;
  /** Share of sends that send, store and emit, then hang and destroy the socket. */
  timeoutAfterSendRate?: number;
  /** How long an ambiguous send hangs before the socket is destroyed. */
  hangMs?: number;
  /** Numbers (digits or JIDs) answered with 400 exists:false. */
  notOnWhatsappJids?: string[];
  /** extension: status of the errorRate failures (default 500). */
  errorStatus?: number;
}

export type ConnectionState = 'open' | 'connecting' | 'close';

export interface MediaControl {
  /** Serve these bytes for the message id (and send them inline in base64 mode). */
  put(id: string, bytes: Buffer): void;
  /** WhatsApp's CDN no longer has the file: Evolution answers 400 "Failed to fetch stream". */
  expire(id: string): void;
  /** The next `times` calls for the id fail with `status` before reaching Evolution (default 502). */
  failNext(id: string, times: number, status?: number): void;
}

export interface EvolutionSim {
  url: string;
  apiKey: string;
  instanceToken(instance: string): string;
  generate(spec: TrafficSpec): StoredMessage[];
  publish(messages: StoredMessage[], opts?: { concurrency?: number }): Promise<PublishReport>;
  run(spec: TrafficSpec, opts?: { concurrency?: number }): Promise<{ messages: StoredMessage[]; report: PublishReport }>;
  emit(instance: string, event: string, data: unknown): Promise<void>;
  setWebhook(instance: string, target: WebhookTarget | null): void;
  setGlobalWebhook(target: WebhookTarget | null): void;
  setRabbitmq(opts: RabbitmqSetup | null): Promise<void>;
  setFaults(partial: Partial<PublishFaults>): void;
  setWebhookRetry(opts: WebhookRetryOptions): void;
  /** extension: the optional statusReason picks the disconnect code for 'close' (default 401 loggedOut). */
  setConnection(instance: string, state: ConnectionState, opts?: { statusReason?: number }): Promise<void>;
  stored(instance?: string): StoredMessage[];
  sent(instance?: string): StoredMessage[];
  setSendFaults(partial: SendFaults): void;
  /** extension: a receipt (messages.update) for a stored message, as Baileys would report it. */
  receipt(instance: string, keyId: string, status: 'SERVER_ACK' | 'DELIVERY_ACK' | 'READ' | 'PLAYED'): Promise<void>;
  /** extension: the contact revoked a stored message on the phone (MESSAGES_EDITED + MESSAGES_DELETE). */
  remoteRevoke(instance: string, keyId: string): Promise<void>;
  /** extension: the sender edited a stored text on the phone (MESSAGES_EDITED, row rewritten). */
  remoteEdit(instance: string, keyId: string, text: string): Promise<void>;
  /** extension: Evolution's Instance.id (the `instanceId` in payloads). */
  instanceId(instance: string): string;
  /** extension: the files getBase64FromMediaMessage serves, and faults of that endpoint (media.ts). */
  media: MediaControl;
  close(): Promise<void>;
}
