/**
 * Webhook payload shapes (Message#webhook_data, Conversations::EventDataPresenter#push_data).
 * They differ from REST on purpose: string message_type, ISO created_at, no top-level status,
 * contact senders without a `type` key. Built at delivery ("job") time, like Chatwoot does.
 */
import { attachmentJson } from './attachments.js';
import { iso, isoOrNull, unix, unixOrZero } from './coerce.js';
import { isMessageEvent, type DomainEvent, type SimContext } from './context.js';
import { canReply } from './conversations.js';
import type { Actor, Changes, Conversation, Message, SenderRef } from './model.js';
import { contactPush, is413, messagePush, userPush } from './views.js';

type Payload = Record<string, unknown>;

function senderWebhook(ctx: SimContext, ref: SenderRef | null): Payload | null {
  if (!ref) return null;
  const { store } = ctx;
  if (ref.type === 'Contact') {
    const c = store.contacts.get(ref.id);
    if (!c) return null;
    const account = store.accounts.get(c.accountId);
    return {
      account: account ? { id: account.id, name: account.name } : null,
      additional_attributes: c.additionalAttributes,
      avatar: '',
      custom_attributes: c.customAttributes,
      email: c.email,
      id: c.id,
      identifier: c.identifier,
      name: c.name,
      phone_number: c.phoneNumber,
      thumbnail: '',
      blocked: c.blocked,
    };
  }
  if (ref.type === 'User') {
    const u = store.users.get(ref.id);
    return u ? { id: u.id, name: u.name, email: u.email, type: 'user' } : null;
  }
  const b = store.bots.get(ref.id);
  return b ? { id: b.id, name: b.name, type: 'agent_bot' } : null;
}

const actorWebhook = (ctx: SimContext, actor: Actor): Payload | null =>
  senderWebhook(ctx, actor.kind === 'user' ? { type: 'User', id: actor.user.id } : { type: 'AgentBot', id: actor.bot.id });

/** Conversations::EventDataPresenter#push_data. */
export function conversationPushData(ctx: SimContext, conv: Conversation): Payload {
  const { store } = ctx;
  const inbox = store.inboxes.get(conv.inboxId);
  const contact = store.contacts.get(conv.contactId);
  const ci = store.contactInboxes.get(conv.contactInboxId);
  const assignee = conv.assigneeId === null ? undefined : store.users.get(conv.assigneeId);
  let lastChat: Message | undefined;
  for (let i = conv.messages.length - 1; i >= 0 && !lastChat; i--) {
    const m = conv.messages[i];
    if (m && m.messageType !== 'activity' && !m.private) lastChat = m;
  }
  return {
    additional_attributes: conv.additionalAttributes,
    can_reply: inbox ? canReply(conv, inbox, ctx.now()) : true,
    channel: inbox?.channelType ?? null,
    contact_inbox: ci
      ? {
          id: ci.id,
          contact_id: ci.contactId,
          inbox_id: ci.inboxId,
          source_id: ci.sourceId,
          created_at: iso(ci.createdAt),
          updated_at: iso(ci.updatedAt),
          hmac_verified: ci.hmacVerified,
          pubsub_token: ci.pubsubToken,
        }
      : null,
    id: conv.displayId,
    inbox_id: conv.inboxId,
    messages: lastChat ? [messagePush(ctx, lastChat)] : [],
    labels: conv.labels,
    meta: {
      sender: contact ? contactPush(contact) : null,
      assignee: assignee ? userPush(assignee) : null,
      assignee_type: assignee ? 'User' : null,
      team: null,
      hmac_verified: ci?.hmacVerified ?? false,
    },
    status: conv.status,
    custom_attributes: conv.customAttributes,
    snoozed_until: isoOrNull(conv.snoozedUntil),
    unread_count: conv.unreadIncoming,
    first_reply_created_at: isoOrNull(conv.firstReplyCreatedAt),
    priority: conv.priority,
    waiting_since: unixOrZero(conv.waitingSince),
    agent_last_seen_at: unixOrZero(conv.agentLastSeenAt),
    contact_last_seen_at: unixOrZero(conv.contactLastSeenAt),
    last_activity_at: unix(conv.lastActivityAt),
    timestamp: unix(conv.lastActivityAt),
    created_at: unix(conv.createdAt),
    updated_at: conv.updatedAt / 1000,
  };
}

/** 4.13's webhook_content turns Markdown hard breaks (backslash + newline) into plain newlines. */
function webhookContent(content: string | null, v413: boolean): string | null {
  if (content === null || !v413) return content;
  return content.replace(/\\\r?\n/g, '\n');
}

/** Message#webhook_data. */
export function messageWebhookData(ctx: SimContext, m: Message): Payload {
  const { store } = ctx;
  const conv = store.conversationOf(m);
  const inbox = store.inboxes.get(m.inboxId);
  const account = store.accounts.get(m.accountId);
  const payload: Payload = {
    account: account ? { id: account.id, name: account.name } : null,
    additional_attributes: m.additionalAttributes,
    content_attributes: m.contentAttributes,
    content_type: m.contentType,
    content: webhookContent(m.content, is413(inbox)),
    conversation: conversationPushData(ctx, conv),
    created_at: iso(m.createdAt),
    id: m.id,
    inbox: inbox ? { id: inbox.id, name: inbox.name } : null,
    message_type: m.messageType,
    private: m.private,
    sender: senderWebhook(ctx, m.sender),
    source_id: m.sourceId,
  };
  if (m.attachments.length > 0) payload.attachments = m.attachments.map((a) => attachmentJson(ctx, a, is413(inbox)));
  return payload;
}

/** WebhookListener#extract_changed_attributes: a list of single-key maps. */
const changedAttributes = (changes: Changes): Payload[] =>
  Object.entries(changes).map(([k, [previous, current]]) => ({ [k]: { previous_value: previous, current_value: current } }));

/**
 * The body for one event, read from the current state. Null when there is nothing to send
 * (record gone, or an activity message, which is not webhook_sendable).
 */
export function buildWebhookPayload(ctx: SimContext, e: DomainEvent): Payload | null {
  const { store } = ctx;
  switch (e.event) {
    case 'message_created':
    case 'message_updated': {
      const m = store.messages.get(e.messageId);
      if (!m || m.messageType === 'activity') return null;
      return { event: e.event, ...messageWebhookData(ctx, m) };
    }
    case 'conversation_created': {
      const conv = store.conversations.get(e.conversationPk);
      return conv ? { event: e.event, ...conversationPushData(ctx, conv) } : null;
    }
    case 'conversation_status_changed':
    case 'conversation_updated': {
      const conv = store.conversations.get(e.conversationPk);
      if (!conv) return null;
      return { event: e.event, ...conversationPushData(ctx, conv), changed_attributes: changedAttributes(e.changes) };
    }
    case 'conversation_typing_on':
    case 'conversation_typing_off': {
      const conv = store.conversations.get(e.conversationPk);
      if (!conv) return null;
      return {
        event: e.event,
        user: actorWebhook(ctx, e.actor),
        conversation: conversationPushData(ctx, conv),
        is_private: e.isPrivate,
      };
    }
  }
}

/** The inbox whose callback receives this event. */
export function inboxIdOf(ctx: SimContext, e: DomainEvent): number | undefined {
  if (isMessageEvent(e)) return ctx.store.messages.get(e.messageId)?.inboxId;
  return ctx.store.conversations.get(e.conversationPk)?.inboxId;
}
