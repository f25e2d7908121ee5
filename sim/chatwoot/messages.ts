/**
 * Messages::MessageBuilder and the message model callbacks. Deliberately NO dedup on source_id:
 * the real API stores every POST, which is what makes retries after a lost response dangerous.
 */
import { buildAttachment, FilePart, MAX_ATTACHMENTS, type UploadedFile } from './attachments.js';
import { castBool, castString, isBlank, isPlainObject } from './coerce.js';
import type { SimContext } from './context.js';
import { unprocessable } from './errors.js';
import { updateConversation } from './conversations.js';
import {
  CONTENT_TYPES,
  MESSAGE_TYPES,
  type Actor,
  type Conversation,
  type Json,
  type Message,
  type MessageType,
  type SenderRef,
} from './model.js';

export const MAX_CONTENT_LENGTH = 150_000;

/** content_attributes may arrive as an object or as a JSON string (multipart). */
function parseContentAttributes(value: unknown): Json {
  if (isPlainObject(value)) return { ...value };
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      return isPlainObject(parsed) ? parsed : {};
    } catch {
      return {};
    }
  }
  return {};
}

function senderFor(ctx: SimContext, conv: Conversation, type: MessageType, actor: Actor, params: Json): SenderRef {
  if (type !== 'outgoing') return { type: 'Contact', id: conv.contactId }; // incoming AND template
  if (params.sender_type === 'AgentBot') {
    const bot = ctx.store.bots.get(Number(params.sender_id));
    if (bot && bot.accountId === conv.accountId) return { type: 'AgentBot', id: bot.id };
  }
  return actor.kind === 'user' ? { type: 'User', id: actor.user.id } : { type: 'AgentBot', id: actor.bot.id };
}

/** Messages::InReplyToMessageBuilder: look up inside the conversation; not found → both null. */
function resolveInReplyTo(ctx: SimContext, conv: Conversation, attrs: Json): void {
  const byId = attrs.in_reply_to;
  const byExternal = attrs.in_reply_to_external_id;
  if (isBlank(byId) && isBlank(byExternal)) return;
  let found: Message | undefined;
  if (!isBlank(byId)) {
    const id = typeof byId === 'number' ? byId : /^\s*\d+\s*$/.test(String(byId)) ? Number(byId) : NaN;
    const candidate = ctx.store.messages.get(id);
    found = candidate?.conversationPk === conv.pk ? candidate : undefined;
  } else {
    found = conv.firstBySourceId.get(String(byExternal));
  }
  attrs.in_reply_to_external_id = found?.sourceId ?? null;
  attrs.in_reply_to = found?.id ?? null;
}

/**
 * A conversation's messages are kept in creation order, so the minute's first one is found by
 * binary search: a scan from the end cost the fake a step per message of the minute, up to the
 * limit, on every create — a cost real Chatwoot (an indexed count) does not have.
 */
function messagesInLastMinute(conv: Conversation, now: number): number {
  const since = now - 60_000;
  let lo = 0;
  let hi = conv.messages.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((conv.messages[mid] as Message).createdAt < since) lo = mid + 1;
    else hi = mid;
  }
  return conv.messages.length - lo;
}

export interface CreateMessageResult {
  message: Message;
  echoId: string | null;
}

/**
 * POST …/messages. Every failure surfaces as 422 {"error": <exception message>}, because the
 * controller rescues StandardError around the builder.
 */
export function createMessage(
  ctx: SimContext,
  conv: Conversation,
  actor: Actor,
  params: Json,
): CreateMessageResult {
  const { store } = ctx;
  const inbox = store.inboxes.get(conv.inboxId);
  if (!inbox) throw unprocessable('Inbox not found');
  const type = castString(params.message_type) ?? 'outgoing';
  if (inbox.channelType !== 'Channel::Api' && type === 'incoming') {
    throw unprocessable('Incoming messages are only allowed in Api inboxes');
  }
  if (!(MESSAGE_TYPES as readonly string[]).includes(type)) throw unprocessable(`'${type}' is not a valid message_type`);
  const messageType = type as MessageType;
  const contentType = castString(params.content_type) ?? 'text';
  if (!(CONTENT_TYPES as readonly string[]).includes(contentType)) {
    throw unprocessable(`'${contentType}' is not a valid content_type`);
  }
  const contentAttributes = parseContentAttributes(params.content_attributes);
  if (params.external_created_at !== undefined) contentAttributes.external_created_at = params.external_created_at;
  const additionalAttributes: Json = {};
  if (params.campaign_id !== undefined) additionalAttributes.campaign_id = params.campaign_id;
  if (isPlainObject(params.template_params)) additionalAttributes.template_params = params.template_params;

  // `attachments[]`: uploaded file parts, or signed blob ids (direct uploads) as strings.
  const uploads: UploadedFile[] = [];
  const rawAttachments = Array.isArray(params.attachments) ? params.attachments : [];
  for (const item of rawAttachments) {
    if (item instanceof FilePart) {
      uploads.push(item);
      continue;
    }
    if (typeof item !== 'string') continue;
    // A direct-upload signed blob id: only ids of blobs this fake has stored are valid.
    const blob = store.attachmentsBySignedId.get(item);
    if (!blob) throw unprocessable('ActiveSupport::MessageVerifier::InvalidSignature');
    uploads.push({ filename: blob.fileName, contentType: blob.contentType, data: blob.data });
  }

  const now = ctx.now();
  const content = castString(params.content);
  const problems: string[] = [];
  if (content !== null && content.length > MAX_CONTENT_LENGTH) {
    problems.push(`Content is too long (maximum is ${MAX_CONTENT_LENGTH} characters)`);
  }
  if (messagesInLastMinute(conv, now) >= ctx.messagesPerMinuteLimit) problems.push('Too many messages');
  if (uploads.length > MAX_ATTACHMENTS) problems.push('Attachments exceeded maximum allowed');
  if (problems.length > 0) throw unprocessable(`Validation failed: ${problems.join(', ')}`);

  resolveInReplyTo(ctx, conv, contentAttributes);
  const message = store.insertMessage(conv, {
    accountId: conv.accountId,
    inboxId: conv.inboxId,
    conversationPk: conv.pk,
    content,
    contentType,
    messageType,
    private: castBool(params.private) ?? false,
    sourceId: castString(params.source_id),
    status: 'sent',
    contentAttributes,
    additionalAttributes,
    sender: senderFor(ctx, conv, messageType, actor, params),
    createdAt: now,
    updatedAt: now,
    attachments: [],
  });
  for (const file of uploads) {
    const attachment = { ...buildAttachment(ctx, conv.accountId, file), messageId: message.id };
    message.attachments.push(attachment);
    store.attachmentsBySignedId.set(attachment.signedId, attachment);
  }
  afterCreate(ctx, conv, message, actor);
  return { message, echoId: castString(params.echo_id) };
}

/** The after_create_commit chain, in Chatwoot's order. */
function afterCreate(ctx: SimContext, conv: Conversation, message: Message, actor: Actor): void {
  const contact = ctx.store.contacts.get(conv.contactId);
  const muted = contact?.blocked ?? false;
  if (message.messageType === 'incoming' && !muted && (conv.status === 'resolved' || conv.status === 'snoozed')) {
    updateConversation(ctx, conv, { status: 'open' }, actor);
  }
  conv.lastActivityAt = message.createdAt;
  conv.updatedAt = message.createdAt; // belongs_to :conversation, touch: true
  if (message.messageType === 'incoming') conv.unreadIncoming++;
  if (message.messageType !== 'activity') ctx.emit({ event: 'message_created', messageId: message.id });
  if (message.sender?.type === 'Contact' && contact) contact.lastActivityAt = message.createdAt;

  const humanReply =
    message.messageType === 'outgoing' &&
    message.sender?.type === 'User' &&
    isBlank(message.contentAttributes.automation_rule_id) &&
    isBlank(message.additionalAttributes.campaign_id);
  if (humanReply && !message.private) {
    // FIRST_REPLY_CREATED → update_columns: no callbacks, no event.
    if (conv.firstReplyCreatedAt === null) conv.firstReplyCreatedAt = message.createdAt;
    if (conv.waitingSince !== null) updateConversation(ctx, conv, { waitingSince: null }, null);
  }
  if (message.messageType === 'incoming' && conv.waitingSince === null) {
    updateConversation(ctx, conv, { waitingSince: message.createdAt }, null);
  }
}

