import { isReceipt } from '../domain/agent-reply.js';
import type { LaneItem } from '../domain/lane-item.js';
import { isChatMessage } from '../domain/lane-item.js';
import { isMessageEvent } from '../domain/wa-events.js';
import { isLid, isPhoneJid, phoneDigits } from '../evolution/jid.js';

/** What deciding an item's lane needs from the ledger, inside the transaction that stores it. */
export interface LaneKeyLookup {
  /** The phone JID a LID is known to belong to, or null. */
  phoneForLid(instance: string, lid: string): Promise<string | null>;
  /** The lane (chat) a stored message lives in, or null when the ledger never saw it. */
  chatOfMessage(instance: string, waId: string): Promise<string | null>;
  /** The LID paired with this phone JID whose lane is not folded into the phone's yet, or null. */
  unfoldedLidOf(instance: string, phoneJid: string): Promise<string | null>;
}

/**
 * The lane an item goes to. A chat's key is its phone JID whenever the phone is known, from the
 * event or from an identity learned earlier; a LID only while nothing links it to a phone. An edit,
 * a delete or a receipt goes where the message it refers to lives, so it is applied after it, in
 * order: a receipt names the chat by its raw LID (reference §2.3, §2.8) while the message is filed
 * under the phone, and in a lane of its own it would wait for a message another lane delivers.
 * Returns the item unchanged (same object) when nothing changes: the common case costs nothing.
 */
export async function laneKeyOf(item: LaneItem, lookup: LaneKeyLookup): Promise<LaneItem> {
  const keyed = await phoneLane(item, lookup);
  if (!isPhoneJid(keyed.chat) || (!isChatMessage(keyed) && !isMessageEvent(keyed) && !isReceipt(keyed))) return keyed;
  // The person's LID lane is still to be folded into this one (its lease was held: a worker is
  // delivering its head, maybe creating the contact and conversation right now). Until the fold,
  // their new items join that lane: two lanes of one person delivering side by side would race to
  // create a second contact or conversation, and interleave out of WhatsApp order.
  const lid = await lookup.unfoldedLidOf(keyed.instance, keyed.chat);
  if (lid === null) return keyed;
  return isChatMessage(keyed) || isMessageEvent(keyed) ? { ...keyed, chat: lid, chatLid: lid } : { ...keyed, chat: lid };
}

async function phoneLane(item: LaneItem, lookup: LaneKeyLookup): Promise<LaneItem> {
  if (isMessageEvent(item) || isReceipt(item)) {
    const targetChat = await lookup.chatOfMessage(item.instance, item.targetWaId);
    if (targetChat !== null) return targetChat === item.chat ? item : { ...item, chat: targetChat };
    if (isMessageEvent(item) && !item.chatKnown) return item;
  }
  if (!isLid(item.chat)) return item;
  if (isReceipt(item)) {
    const phoneJid = await lookup.phoneForLid(item.instance, item.chat);
    return phoneJid === null ? item : { ...item, chat: phoneJid };
  }
  if (!isChatMessage(item) && !isMessageEvent(item)) return item;
  const phoneJid = await lookup.phoneForLid(item.instance, item.chat);
  if (phoneJid === null) return item;
  return { ...item, chat: phoneJid, chatPhone: phoneDigits(phoneJid), chatLid: item.chat };
}
