/**
 * Evolution event names as they appear on the wire (`event` field, RabbitMQ routing keys), and the
 * by-events webhook path suffixes (`/messages-upsert`): both name the same event, and a webhook in
 * by-events mode may carry either form, so everything is mapped to the dotted wire name.
 */
export const WIRE_EVENTS = [
  'application.startup', 'instance.create', 'instance.delete', 'qrcode.updated', 'connection.update',
  'status.instance', 'messages.set', 'messages.upsert', 'messages.edited', 'messages.update',
  'messages.delete', 'send.message', 'send.message.update', 'contacts.set', 'contacts.upsert',
  'contacts.update', 'presence.update', 'chats.set', 'chats.upsert', 'chats.update', 'chats.delete',
  'groups.upsert', 'groups.update', 'group-participants.update', 'labels.edit', 'labels.association',
  'call', 'typebot.start', 'typebot.change-status', 'remove.instance', 'logout.instance',
  'messaging-history.set',
] as const;

const BY_PATH = new Map<string, string>();
for (const wire of WIRE_EVENTS) {
  // Evolution: UPPER_KEY.replace(/_/g, '-').toLowerCase(), where UPPER_KEY = wire with . and - → _
  BY_PATH.set(wire.replace(/[.-]/g, '_').replace(/_/g, '-').toLowerCase(), wire);
  BY_PATH.set(wire, wire);
}

/** Maps a by-events path segment or a wire name (any case) to the wire name; null if unknown. */
export function wireEventName(name: string): string | null {
  const n = name.trim().toLowerCase();
  return BY_PATH.get(n) ?? BY_PATH.get(n.replace(/_/g, '-')) ?? BY_PATH.get(n.replace(/_/g, '.')) ?? null;
}
