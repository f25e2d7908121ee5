/**
 * The faithful fake Evolution API (v2.3.x–2.4, Baileys channel): REST, webhook and RabbitMQ
 * transports, stored messages and fault injection, built from /work/shared/reference/evolution-api.md.
 */
export type {
  ConnectionState,
  EvolutionSim,
  EvolutionSimOptions,
  GeneratedChat,
  LidConvention,
  MediaControl,
  MessageKey,
  MessageKind,
  PublishFaults,
  PublishReport,
  RabbitmqSetup,
  SendFaults,
  StoredMessage,
  TrafficSpec,
  WebhookRetryOptions,
  WebhookTarget,
} from './types.js';
export { createEvolutionSim } from './sim.js';
export {
  STATUS_NAMES,
  apiDeletePayload,
  buildMessageRaw,
  connectionPayload,
  contentType,
  protocolMessagePayload,
  receiptPayload,
  type MessageRaw,
  type MessageRow,
  type WaMessage,
} from './message-raw.js';
export {
  audioMessage,
  contactMessage,
  documentMessage,
  extendedTextMessage,
  imageMessage,
  locationMessage,
  messageContextInfo,
  pollCreationMessageV3,
  quoteContext,
  reactionMessage,
  stickerMessage,
  textMessage,
  videoMessage,
  type MediaOptions,
} from './payloads.js';
export { baileysKey, eventKey, storedKey, type KeyInput, type Party } from './lid.js';
export { byEventsSuffix, configKey, envelopeDateTime, GLOBAL_EVENT_KEYS, INSTANCE_EVENT_KEYS } from './events.js';
export { bytesJson, jsonbOrder, longJson } from './proto-json.js';
export { createJid, deviceOf } from './wa-ids.js';
export { webhookJwt } from './webhook.js';
