import type { AgentDelete, AgentReply, Receipt } from './agent-reply.js';
import type { ChatMessage, Direction } from './message.js';
import type { MessageDelete, MessageEdit } from './wa-events.js';

/**
 * Everything a lane carries, in either direction. A lane is one chat's FIFO; besides WhatsApp
 * messages it holds the events that refer to them (edits, deletes, receipts) and agent replies,
 * so each is applied after what it refers to and an agent reply meets its own WhatsApp echo.
 *
 * The ledger stores, orders and deduplicates items by these base fields alone; each kind's handler
 * reads the rest. Kinds are told apart by `event`.
 */
export interface LaneItemBase {
  instance: string;
  /**
   * The item's key within the instance (unique in the ledger): a WhatsApp message id, or a key
   * derived from the id it refers to for events about a message.
   */
  waId: string;
  chat: string;
  fromMe: boolean;
  /** Order within the chat, epoch seconds. */
  timestamp: number;
  event: string;
}

/** Every kind of lane item. A new kind is added here and routed in lanes/route.ts. */
export type LaneItem = ChatMessage | AgentReply | AgentDelete | Receipt | MessageEdit | MessageDelete;

export type LaneEvent = LaneItem['event'];

const CHAT_MESSAGE_EVENTS: ReadonlySet<string> = new Set(['messages.upsert', 'send.message']);

/** A WhatsApp message to show in Chatwoot (rather than an event about one). */
export function isChatMessage(item: LaneItemBase): item is ChatMessage {
  return CHAT_MESSAGE_EVENTS.has(item.event);
}

/** Which side an item is applied to: agent actions go to WhatsApp, everything else to Chatwoot. */
export function directionOf(item: LaneItemBase): Direction {
  return item.event.startsWith('chatwoot.') ? 'to_whatsapp' : 'to_chatwoot';
}
