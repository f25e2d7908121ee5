/**
 * Instances and their one-to-one config rows (Instance, Webhook, Rabbitmq, Chatwoot, Setting), as
 * Prisma would return them. The REST config endpoints and the sim's setters both write here, so
 * "setWebhook() has the same effect as POST /webhook/set" holds by construction.
 */
import type { Random } from '../shared/random.js';
import { INSTANCE_EVENT_KEYS } from './events.js';
import type { RabbitmqRow } from './rabbitmq.js';
import type { ConnectionState, WebhookTarget } from './types.js';
import { lidJid, phoneNumber, pnJid, uuid } from './wa-ids.js';
import type { WebhookRow } from './webhook.js';

export interface InstanceState {
  name: string;
  /** Instance.id: the `instanceId` inside payloads. */
  id: string;
  token: string;
  /** The instance's own JID (envelope `sender`, Instance.ownerJid). */
  wuid: string;
  /** The instance's own LID (group sender in LID-addressed groups). */
  lid: string;
  profileName: string;
  profilePicUrl: string | null;
  connection: ConnectionState;
  statusReason: number;
  disconnectionReasonCode: number | null;
  disconnectionObject: string | null;
  disconnectionAt: string | null;
  createdAt: string;
  updatedAt: string;
  webhook: WebhookRow | null;
  rabbitmq: RabbitmqRow | null;
  chatwoot: Record<string, unknown> | null;
  settingId: string;
  /** Contact rows that exist (CONTACTS_UPSERT for a new one, CONTACTS_UPDATE after). */
  contacts: Set<string>;
  /** Chat rows that exist (for fetchInstances' _count). */
  chats: Set<string>;
  /** `${keyId}_${status}` of receipts already handled (Evolution's 30-minute dedupe cache). */
  receiptCache: Set<string>;
}

export function createInstance(name: string, rng: Random, cuid: () => string, nowIso: string): InstanceState {
  return {
    name,
    id: uuid(rng),
    token: uuid(rng).toUpperCase(),
    wuid: pnJid(phoneNumber(rng)),
    lid: lidJid(rng),
    profileName: `Evolution ${name}`,
    profilePicUrl: null,
    connection: 'open',
    statusReason: 200,
    disconnectionReasonCode: null,
    disconnectionObject: null,
    disconnectionAt: null,
    createdAt: nowIso,
    updatedAt: nowIso,
    webhook: null,
    rabbitmq: null,
    chatwoot: null,
    settingId: cuid(),
    contacts: new Set(),
    chats: new Set(),
    receiptCache: new Set(),
  };
}

/**
 * WebhookController.set(): disabled → events stored as []; enabled with [] → every instance event.
 * The row keeps its id across updates (Prisma upsert on instanceId).
 */
export function upsertWebhookRow(
  inst: InstanceState,
  input: { enabled: boolean; url: string; headers?: Record<string, string> | null; byEvents?: boolean; base64?: boolean; events?: string[] },
  cuid: () => string,
  nowIso: string,
): WebhookRow {
  const events = !input.enabled ? [] : input.events && input.events.length > 0 ? [...input.events] : [...INSTANCE_EVENT_KEYS];
  const prev = inst.webhook;
  const row: WebhookRow = {
    id: prev?.id ?? cuid(),
    url: input.url,
    headers: input.headers === undefined ? (prev?.headers ?? null) : input.headers,
    enabled: input.enabled,
    events,
    webhookByEvents: input.byEvents ?? prev?.webhookByEvents ?? false,
    webhookBase64: input.base64 ?? prev?.webhookBase64 ?? false,
    createdAt: prev?.createdAt ?? nowIso,
    updatedAt: nowIso,
    instanceId: inst.id,
  };
  inst.webhook = row;
  return row;
}

export function webhookTargetInput(target: WebhookTarget | null, inst: InstanceState) {
  if (!target) return { enabled: false, url: inst.webhook?.url ?? '', events: [] };
  return {
    enabled: true,
    url: target.url,
    headers: target.headers ?? null,
    byEvents: target.byEvents ?? false,
    base64: target.base64 ?? false,
    events: target.events ?? [],
  };
}

/** EventController.set() for RabbitMQ: same enabled/events rule as the webhook. */
export function upsertRabbitmqRow(
  inst: InstanceState,
  input: { enabled: boolean; events?: string[] },
  cuid: () => string,
  nowIso: string,
): RabbitmqRow {
  const events = !input.enabled ? [] : input.events && input.events.length > 0 ? [...input.events] : [...INSTANCE_EVENT_KEYS];
  const prev = inst.rabbitmq;
  const row: RabbitmqRow = {
    id: prev?.id ?? cuid(),
    enabled: input.enabled,
    events,
    createdAt: prev?.createdAt ?? nowIso,
    updatedAt: nowIso,
    instanceId: inst.id,
  };
  inst.rabbitmq = row;
  return row;
}

/** Does the instance webhook make Evolution attach base64 to media (for every transport)? */
export function wantsBase64(inst: InstanceState): boolean {
  return inst.webhook?.enabled === true && inst.webhook.webhookBase64;
}

/** One element of GET /instance/fetchInstances (Instance row with its includes and counts). */
export function instanceInfo(inst: InstanceState, messageCount: number): Record<string, unknown> {
  return {
    id: inst.id,
    name: inst.name,
    connectionStatus: inst.connection,
    ownerJid: inst.wuid,
    profileName: inst.profileName,
    profilePicUrl: inst.profilePicUrl,
    integration: 'WHATSAPP-BAILEYS',
    number: null,
    businessId: null,
    token: inst.token,
    clientName: 'evolution_exchange',
    disconnectionReasonCode: inst.disconnectionReasonCode,
    disconnectionObject: inst.disconnectionObject,
    disconnectionAt: inst.disconnectionAt,
    createdAt: inst.createdAt,
    updatedAt: inst.updatedAt,
    Chatwoot: inst.chatwoot,
    Proxy: null,
    Rabbitmq: inst.rabbitmq,
    Nats: null,
    Sqs: null,
    Websocket: null,
    Setting: {
      id: inst.settingId,
      rejectCall: false,
      msgCall: '',
      groupsIgnore: false,
      alwaysOnline: false,
      readMessages: false,
      readStatus: false,
      syncFullHistory: false,
      wavoipToken: '',
      createdAt: inst.createdAt,
      updatedAt: inst.createdAt,
      instanceId: inst.id,
    },
    _count: { Message: messageCount, Contact: inst.contacts.size, Chat: inst.chats.size },
  };
}
