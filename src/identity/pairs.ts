import type { LaneItem } from '../domain/lane-item.js';
import { isChatMessage } from '../domain/lane-item.js';
import { isMessageEvent } from '../domain/wa-events.js';
import { isLid, PHONE_SERVER } from '../evolution/jid.js';

/** One person's two WhatsApp addresses: their LID and their phone JID (`<digits>@s.whatsapp.net`). */
export interface IdentityPair {
  lid: string;
  phoneJid: string;
}

/**
 * The LID↔phone pairs an item proves. Every Evolution convention ends up here with both halves
 * when it had them: remoteJidAlt (2.3.5+, either way round), senderPn/previousRemoteJid
 * (2.3.2–2.3.4), and a group sender's participant/participantAlt (or 2.3.4's participantPn).
 */
export function pairsOf(item: LaneItem): IdentityPair[] {
  const out: IdentityPair[] = [];
  const add = (lid: string | null | undefined, digits: string | null | undefined) => {
    if (lid && digits && isLid(lid)) out.push({ lid, phoneJid: `${digits}@${PHONE_SERVER}` });
  };
  if (isChatMessage(item)) {
    if (!item.isGroup) add(item.chatLid, item.chatPhone);
    add(item.sender?.lid, item.sender?.phone);
  } else if (isMessageEvent(item) && !item.isGroup) {
    add(item.chatLid, item.chatPhone);
  }
  return out;
}
