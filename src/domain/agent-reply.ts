import type { LaneItemBase } from './lane-item.js';

/**
 * What an agent does in Chatwoot that must reach WhatsApp, and the WhatsApp receipts that must reach
 * Chatwoot back. They travel in the chat's lane with its WhatsApp messages, so a reply meets its own
 * echo after its send is recorded, and a receipt is applied after the message it is about.
 */

/** A file of an agent reply, as Chatwoot's webhook describes it (fetched only when sent). */
export interface AgentAttachment {
  /** ActiveStorage redirect URL on Chatwoot's own host. */
  url: string;
  /** Chatwoot's file_type: image | audio | video | file (location, contact… are not sendable). */
  fileType: string;
  /** Chatwoot ≥ 4.13 says it; older versions leave it to the download's Content-Type. */
  contentType: string | null;
  fileName: string | null;
}

/**
 * One WhatsApp message to send for an agent reply. A reply with several attachments is several
 * WhatsApp messages, each its own item with its own recorded WhatsApp id, so a failure half-way
 * never re-sends the parts already delivered.
 */
export interface AgentReply extends LaneItemBase {
  event: 'chatwoot.message_created';
  /** `cw:<chatwoot message id>` for the first part, `cw:<id>#<n>` for the n-th further part. */
  waId: string;
  fromMe: true;
  accountId: number;
  inboxId: number;
  cwMessageId: number;
  cwConversationId: number;
  /** 0 for the first part. */
  part: number;
  /** Markdown as the agent wrote it (text part, or the caption of a media part). */
  text: string;
  attachment: AgentAttachment | null;
  /** Chatwoot id of the quoted message, and its WhatsApp id when Chatwoot knew it (`WAID:` source id). */
  inReplyTo: number | null;
  inReplyToWaId: string | null;
  /** Agent name, for the optional signature. */
  senderName: string | null;
  /** When the agent wrote it (Chatwoot created_at), epoch ms: replies older than the max age are not sent. */
  createdAtMs: number;
}

/** The agent deleted a message in Chatwoot: delete it on WhatsApp for everyone, once. */
export interface AgentDelete extends LaneItemBase {
  event: 'chatwoot.message_deleted';
  /** `cw:<chatwoot message id>#delete` */
  waId: string;
  fromMe: true;
  cwMessageId: number;
  cwConversationId: number;
  /** The WhatsApp id when the message came from WhatsApp (`WAID:` source id of an outgoing echo). */
  sourceWaId: string | null;
}

/** Evolution's messages.update status of a WhatsApp message, mapped to Chatwoot's. */
export type WaStatus = 'sent' | 'delivered' | 'read' | 'failed';

/** A WhatsApp receipt (messages.update) for a message we sent or synced as outgoing. */
export interface Receipt extends LaneItemBase {
  event: 'messages.update';
  /** `<whatsapp id>#status:<EVOLUTION STATUS>`: one item per message and status. */
  waId: string;
  /** The WhatsApp id the receipt is about. */
  targetWaId: string;
  status: WaStatus;
  /** Evolution's own status name (SERVER_ACK, DELIVERY_ACK, READ, PLAYED, ERROR). */
  evolutionStatus: string;
}

export const replyKey = (cwMessageId: number, part = 0): string => (part === 0 ? `cw:${cwMessageId}` : `cw:${cwMessageId}#${part}`);
export const deleteKey = (cwMessageId: number): string => `cw:${cwMessageId}#delete`;
export const receiptKey = (waId: string, evolutionStatus: string): string => `${waId}#status:${evolutionStatus}`;

/** Chatwoot refuses read → delivered itself; evosync also never lets a status go back. */
const RANK: Record<WaStatus, number> = { sent: 1, failed: 2, delivered: 3, read: 4 };

export function isStatusAdvance(current: string | null | undefined, next: WaStatus): boolean {
  const cur = current && current in RANK ? RANK[current as WaStatus] : 0;
  return RANK[next] > cur;
}

export function isAgentReply(item: LaneItemBase): item is AgentReply {
  return item.event === 'chatwoot.message_created';
}
export function isAgentDelete(item: LaneItemBase): item is AgentDelete {
  return item.event === 'chatwoot.message_deleted';
}
export function isReceipt(item: LaneItemBase): item is Receipt {
  return item.event === 'messages.update';
}
