/**
 * Event names and envelopes (reference §1.1–§1.2). Evolution matches subscriptions on the
 * uppercase config key computed from the wire name, so the mismatches it has (groups.update →
 * GROUPS_UPDATE never listed; STATUS_INSTANCE/REMOVE/LOGOUT absent from the global maps) fall out
 * of the same computation here instead of being special-cased.
 */

/** EventController.events: what /webhook/set and /rabbitmq/set accept, and "all" for an instance. */
export const INSTANCE_EVENT_KEYS = [
  'APPLICATION_STARTUP',
  'QRCODE_UPDATED',
  'MESSAGES_SET',
  'MESSAGES_UPSERT',
  'MESSAGES_EDITED',
  'MESSAGES_UPDATE',
  'MESSAGES_DELETE',
  'SEND_MESSAGE',
  'SEND_MESSAGE_UPDATE',
  'CONTACTS_SET',
  'CONTACTS_UPSERT',
  'CONTACTS_UPDATE',
  'PRESENCE_UPDATE',
  'CHATS_SET',
  'CHATS_UPSERT',
  'CHATS_UPDATE',
  'CHATS_DELETE',
  'GROUPS_UPSERT',
  'GROUP_UPDATE',
  'GROUP_PARTICIPANTS_UPDATE',
  'CONNECTION_UPDATE',
  'LABELS_EDIT',
  'LABELS_ASSOCIATION',
  'CALL',
  'TYPEBOT_START',
  'TYPEBOT_CHANGE_STATUS',
  'REMOVE_INSTANCE',
  'LOGOUT_INSTANCE',
  'INSTANCE_CREATE',
  'INSTANCE_DELETE',
  'STATUS_INSTANCE',
] as const;

/** Keys of the env maps WEBHOOK_EVENTS_* / RABBITMQ_EVENTS_* (global mode): no STATUS/REMOVE/LOGOUT. */
export const GLOBAL_EVENT_KEYS = [
  'APPLICATION_STARTUP',
  'INSTANCE_CREATE',
  'INSTANCE_DELETE',
  'QRCODE_UPDATED',
  'MESSAGES_SET',
  'MESSAGES_UPSERT',
  'MESSAGES_EDITED',
  'MESSAGES_UPDATE',
  'MESSAGES_DELETE',
  'SEND_MESSAGE',
  'SEND_MESSAGE_UPDATE',
  'CONTACTS_SET',
  'CONTACTS_UPDATE',
  'CONTACTS_UPSERT',
  'PRESENCE_UPDATE',
  'CHATS_SET',
  'CHATS_UPDATE',
  'CHATS_UPSERT',
  'CHATS_DELETE',
  'CONNECTION_UPDATE',
  'LABELS_EDIT',
  'LABELS_ASSOCIATION',
  'GROUPS_UPSERT',
  'GROUP_UPDATE',
  'GROUP_PARTICIPANTS_UPDATE',
  'CALL',
  'TYPEBOT_START',
  'TYPEBOT_CHANGE_STATUS',
] as const;

/** Wire names used by the sim (lowercase, dotted). */
export const EVENT = {
  MESSAGES_UPSERT: 'messages.upsert',
  MESSAGES_UPDATE: 'messages.update',
  MESSAGES_DELETE: 'messages.delete',
  MESSAGES_EDITED: 'messages.edited',
  SEND_MESSAGE: 'send.message',
  SEND_MESSAGE_UPDATE: 'send.message.update',
  CONTACTS_UPSERT: 'contacts.upsert',
  CONTACTS_UPDATE: 'contacts.update',
  CONNECTION_UPDATE: 'connection.update',
  STATUS_INSTANCE: 'status.instance',
  LOGOUT_INSTANCE: 'logout.instance',
} as const;

/** `we`: the config key Evolution derives from a wire name (group-participants.update → GROUP_PARTICIPANTS_UPDATE). */
export function configKey(event: string): string {
  return event.replace(/[.-]/g, '_').toUpperCase();
}

/** The byEvents URL suffix: messages.upsert → messages-upsert. */
export function byEventsSuffix(event: string): string {
  return configKey(event).replace(/_/g, '-').toLowerCase();
}

/**
 * The `date_time` field: `new Date(Date.now() - tzOffset).toISOString()`, i.e. the server's local
 * wall-clock time with a Z suffix. Real UTC only when the process runs with TZ=UTC.
 */
export function envelopeDateTime(nowMs: number): string {
  const offsetMs = new Date(nowMs).getTimezoneOffset() * 60_000;
  return new Date(nowMs - offsetMs).toISOString();
}

/** What every transport is handed for one emit (EventManager.emit's argument). */
export interface EmitData {
  instanceName: string;
  event: string;
  data: unknown;
  serverUrl: string;
  dateTime: string;
  /** The instance's own JID; undefined before the first connection (then omitted from JSON). */
  sender: string | undefined;
  apiKey: string | null;
}

/** Normalise a subscription list: [] means every key of `all`. Unknown keys are kept (they never match). */
export function expandEvents(events: readonly string[] | undefined, all: readonly string[]): Set<string> {
  return new Set(events && events.length > 0 ? events : all);
}
