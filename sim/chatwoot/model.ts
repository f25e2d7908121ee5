/**
 * In-memory records of the fake Chatwoot. They mirror the columns of Chatwoot's tables that
 * matter to an API-channel relay; timestamps are ms since the epoch and are converted to the
 * API's unix ints / ISO strings only by the views.
 */

export type Json = Record<string, unknown>;

export interface Account {
  id: number;
  name: string;
}

export type UserRole = 'administrator' | 'agent';

export interface User {
  id: number;
  name: string;
  email: string;
  /** Role per account id; an absent account means "not in account_users". */
  roles: Map<number, UserRole>;
  token: string;
}

export interface AgentBot {
  id: number;
  name: string;
  accountId: number;
  token: string;
}

/** Who performed a request: drives message senders, activity texts and policies. */
export type Actor = { kind: 'user'; user: User } | { kind: 'bot'; bot: AgentBot };

export type ChannelType = 'Channel::Api' | 'Channel::WebWidget';

export interface Inbox {
  id: number;
  accountId: number;
  name: string;
  channelId: number;
  channelType: ChannelType;
  /** API channel only. */
  webhookUrl: string | null;
  /** API channel only; null = a ≤ 4.10 installation without the `secret` column. */
  secret: string | null;
  hmacToken: string;
  identifier: string;
  hmacMandatory: boolean;
  additionalAttributes: Json;
  lockToSingleConversation: boolean;
  websiteUrl: string | null;
  /** inbox_members: user ids (administrators see every inbox regardless). */
  memberIds: Set<number>;
  createdAt: number;
  updatedAt: number;
}

export interface Contact {
  id: number;
  accountId: number;
  name: string;
  email: string | null;
  phoneNumber: string | null;
  identifier: string | null;
  additionalAttributes: Json;
  customAttributes: Json;
  blocked: boolean;
  lastActivityAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface ContactInbox {
  id: number;
  contactId: number;
  inboxId: number;
  sourceId: string;
  hmacVerified: boolean;
  pubsubToken: string;
  createdAt: number;
  updatedAt: number;
}

export const CONVERSATION_STATUSES = ['open', 'resolved', 'pending', 'snoozed'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

export const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface Conversation {
  /** Internal primary key; never exposed (payloads use displayId). */
  pk: number;
  displayId: number;
  accountId: number;
  inboxId: number;
  contactId: number;
  contactInboxId: number;
  uuid: string;
  status: ConversationStatus;
  priority: Priority | null;
  snoozedUntil: number | null;
  assigneeId: number | null;
  additionalAttributes: Json;
  customAttributes: Json;
  labels: string[];
  createdAt: number;
  updatedAt: number;
  lastActivityAt: number;
  waitingSince: number | null;
  firstReplyCreatedAt: number | null;
  agentLastSeenAt: number | null;
  assigneeLastSeenAt: number | null;
  contactLastSeenAt: number | null;
  /** All messages in insertion order (ids ascending, created_at non-decreasing). */
  messages: Message[];
  /** Earliest message per source_id (what `find_by(source_id:)` returns in this conversation). */
  firstBySourceId: Map<string, Message>;
  /** Incoming messages since agent_last_seen_at. */
  unreadIncoming: number;
}

export const MESSAGE_TYPES = ['incoming', 'outgoing', 'activity', 'template'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const MESSAGE_STATUSES = ['sent', 'delivered', 'read', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const CONTENT_TYPES = [
  'text',
  'input_text',
  'input_textarea',
  'input_email',
  'input_select',
  'cards',
  'form',
  'article',
  'incoming_email',
  'input_csat',
  'integrations',
  'sticker',
] as const;

export type SenderRef = { type: 'Contact' | 'User' | 'AgentBot'; id: number };

export interface Attachment {
  id: number;
  messageId: number;
  accountId: number;
  fileType: 'image' | 'audio' | 'video' | 'file';
  contentType: string;
  fileName: string;
  data: Buffer;
  /** Stands in for the ActiveStorage signed blob id used in data_url. */
  signedId: string;
}

export interface Message {
  id: number;
  /** Global insertion order, for verifiers. */
  seq: number;
  accountId: number;
  inboxId: number;
  conversationPk: number;
  content: string | null;
  contentType: string;
  messageType: MessageType;
  private: boolean;
  sourceId: string | null;
  status: MessageStatus;
  contentAttributes: Json;
  additionalAttributes: Json;
  sender: SenderRef | null;
  createdAt: number;
  updatedAt: number;
  attachments: Attachment[];
}

/** ActiveRecord `previous_changes` style: attribute → [before, after]. */
export type Changes = Record<string, [unknown, unknown]>;
