import type { LaneItemBase } from './lane-item.js';

/**
 * Events about a WhatsApp message that already exists: an edit or a delete ("revoke"). They travel
 * in the lane of the chat they belong to, after the message they refer to, and each is keyed in
 * the ledger by an id derived from the target's id, so a redelivered or doubly-shaped event (a
 * revoke arrives both as MESSAGES_EDITED type REVOKE and as MESSAGES_DELETE) is stored once.
 */
interface MessageEventBase extends LaneItemBase {
  /** WhatsApp id (key.id) of the message this event is about. */
  targetWaId: string;
  /** Phone digits of the chat (1:1), when the event carried them. */
  chatPhone: string | null;
  /** LID JID of the chat, when the event carried one. */
  chatLid: string | null;
  isGroup: boolean;
  /**
   * False when the event does not say which chat it belongs to: a protocolMessage key is written
   * from the sender's side, so for a contact's edit its remoteJid is OUR jid. The ledger then files
   * the event in the target message's lane, or (target unknown yet) in a lane of its own.
   */
  chatKnown: boolean;
}

export interface MessageEdit extends MessageEventBase {
  event: 'messages.edited';
  /** The new text (or caption). */
  text: string;
  /** When WhatsApp says the edit was made, epoch ms. */
  editedAtMs: number;
}

export interface MessageDelete extends MessageEventBase {
  event: 'messages.delete';
}

export type MessageEvent = MessageEdit | MessageDelete;

/** Ledger key of an edit: one per (message, edit time), so each successive edit is shown once. */
export const editKey = (targetWaId: string, editedAtMs: number): string => `${targetWaId}#edit:${editedAtMs}`;

/** Ledger key of a delete: a message is deleted once, whatever shape and how often it is reported. */
export const deleteKey = (targetWaId: string): string => `${targetWaId}#delete`;

/** The lane of an event whose chat is not known (yet): its own, so it holds up no real chat. */
export const orphanChat = (targetWaId: string): string => `orphan:${targetWaId}`;

export function isMessageEdit(item: LaneItemBase): item is MessageEdit {
  return item.event === 'messages.edited';
}

export function isMessageDelete(item: LaneItemBase): item is MessageDelete {
  return item.event === 'messages.delete';
}

export function isMessageEvent(item: LaneItemBase): item is MessageEvent {
  return isMessageEdit(item) || isMessageDelete(item);
}
