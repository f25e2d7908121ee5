import type { LaneItem } from '../domain/lane-item.js';
import { isChatMessage } from '../domain/lane-item.js';
import { isMessageEvent } from '../domain/wa-events.js';
import { isLid, phoneDigits } from '../evolution/jid.js';

/** What deciding an item's lane needs from the ledger, inside the transaction that stores it. */
export interface LaneKeyLookup {
  /** The phone JID a LID is known to belong to, or null. */
  phoneForLid(instance: string, lid: string): Promise<string | null>;
  /** The lane (chat) a stored message lives in, or null when the ledger never saw it. */
  chatOfMessage(instance: string, waId: string): Promise<string | null>;
}

/**
 * The lane an item goes to. A chat's key is its phone JID whenever the phone is known, from the
 * event or from an identity learned earlier; a LID only while nothing links it to a phone. An edit
 * or a delete goes where the message it refers to lives, so it is applied after it, in order.
 * Returns the item unchanged (same object) when nothing changes: the common case costs nothing.
 */
export async function laneKeyOf(item: LaneItem, lookup: LaneKeyLookup): Promise<LaneItem> {
  if (isMessageEvent(item)) {
    const targetChat = await lookup.chatOfMessage(item.instance, item.targetWaId);
    if (targetChat !== null) return targetChat === item.chat ? item : { ...item, chat: targetChat };
    if (!item.chatKnown) return item;
  }
  if (!isLid(item.chat)) return item;
  if (!isChatMessage(item) && !isMessageEvent(item)) return item;
  const phoneJid = await lookup.phoneForLid(item.instance, item.chat);
  if (phoneJid === null) return item;
  return { ...item, chat: phoneJid, chatPhone: phoneDigits(phoneJid), chatLid: item.chat };
}
