/**
 * REST response shapes (the jbuilder views and `push_event_data` methods). Timestamps are unix
 * ints here, `message_type` an integer, `status` a string — unlike webhooks (see webhook-views).
 */
import { attachmentJson } from './attachments.js';
import { iso, isoOrNull, unix, unixOrZero } from './coerce.js';
import type { SimContext } from './context.js';
import { canReply } from './conversations.js';
import type { AgentBot, Contact, ContactInbox, Conversation, Inbox, Message, SenderRef, User } from './model.js';

const MESSAGE_TYPE_INT = { incoming: 0, outgoing: 1, activity: 2, template: 3 } as const;

/** Inbox JSON shows content_type on attachments only from 4.13 (a signing secret ⇒ 4.13). */
export const is413 = (inbox: Inbox | undefined): boolean => inbox?.secret != null;

export function contactJson(ctx: SimContext, c: Contact, withContactInboxes: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = {
    additional_attributes: c.additionalAttributes,
    availability_status: 'offline',
    email: c.email,
    id: c.id,
    name: c.name,
    phone_number: c.phoneNumber,
    blocked: c.blocked,
    identifier: c.identifier,
    thumbnail: '',
    custom_attributes: c.customAttributes,
    last_activity_at: c.lastActivityAt === null ? null : unix(c.lastActivityAt),
    created_at: unix(c.createdAt),
  };
  if (withContactInboxes) {
    json.contact_inboxes = ctx.store.contactInboxesOf(c.id).map((ci) => contactInboxJson(ctx, ci));
  }
  return json;
}

export function inboxSlim(inbox: Inbox): Record<string, unknown> {
  return {
    id: inbox.id,
    avatar_url: '',
    channel_id: inbox.channelId,
    name: inbox.name,
    channel_type: inbox.channelType,
    provider: null,
  };
}

export function contactInboxJson(ctx: SimContext, ci: ContactInbox): Record<string, unknown> {
  const inbox = ctx.store.inboxes.get(ci.inboxId);
  return { source_id: ci.sourceId, inbox: inbox ? inboxSlim(inbox) : null };
}

/** The raw Inbox record (`as_json`), as embedded in POST /contacts' contact_inbox. */
export function inboxRecordJson(inbox: Inbox): Record<string, unknown> {
  return {
    id: inbox.id,
    channel_id: inbox.channelId,
    account_id: inbox.accountId,
    name: inbox.name,
    created_at: iso(inbox.createdAt),
    updated_at: iso(inbox.updatedAt),
    channel_type: inbox.channelType,
    enable_auto_assignment: true,
    greeting_enabled: false,
    greeting_message: null,
    email_address: null,
    working_hours_enabled: false,
    out_of_office_message: null,
    timezone: 'UTC',
    enable_email_collect: true,
    csat_survey_enabled: false,
    allow_messages_after_resolved: true,
    auto_assignment_config: {},
    lock_to_single_conversation: inbox.lockToSingleConversation,
    portal_id: null,
    sender_name_type: 'friendly',
    business_name: null,
    csat_config: {},
  };
}

/** _inbox.json.jbuilder; hmac_token and secret only for administrators. */
export function inboxJson(inbox: Inbox, isAdmin: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = {
    ...inboxSlim(inbox),
    greeting_enabled: false,
    greeting_message: null,
    working_hours_enabled: false,
    enable_email_collect: true,
    csat_survey_enabled: false,
    csat_config: {},
    enable_auto_assignment: true,
    auto_assignment_config: {},
    out_of_office_message: null,
    working_hours: [],
    timezone: 'UTC',
    callback_webhook_url: null,
    allow_messages_after_resolved: true,
    lock_to_single_conversation: inbox.lockToSingleConversation,
    sender_name_type: 'friendly',
    business_name: null,
  };
  if (inbox.channelType === 'Channel::Api') {
    json.webhook_url = inbox.webhookUrl;
    json.inbox_identifier = inbox.identifier;
    json.additional_attributes = inbox.additionalAttributes;
    json.hmac_mandatory = inbox.hmacMandatory;
    if (isAdmin) {
      json.hmac_token = inbox.hmacToken;
      if (inbox.secret !== null) json.secret = inbox.secret;
    }
  } else {
    json.website_url = inbox.websiteUrl;
    json.widget_color = '#1f93ff';
    json.website_token = inbox.identifier;
    json.hmac_mandatory = inbox.hmacMandatory;
    if (isAdmin) json.hmac_token = inbox.hmacToken;
  }
  return json;
}

export function contactPush(c: Contact): Record<string, unknown> {
  return {
    additional_attributes: c.additionalAttributes,
    custom_attributes: c.customAttributes,
    email: c.email,
    id: c.id,
    identifier: c.identifier,
    name: c.name,
    phone_number: c.phoneNumber,
    thumbnail: '',
    blocked: c.blocked,
    type: 'contact',
  };
}

export function userPush(u: User): Record<string, unknown> {
  return {
    id: u.id,
    name: u.name,
    available_name: u.name,
    avatar_url: '',
    type: 'user',
    availability_status: 'online',
    thumbnail: '',
  };
}

export function botPush(b: AgentBot): Record<string, unknown> {
  return { id: b.id, name: b.name, avatar_url: '', type: 'agent_bot' };
}

export function senderPush(ctx: SimContext, ref: SenderRef | null): Record<string, unknown> | undefined {
  if (!ref) return undefined;
  const { store } = ctx;
  if (ref.type === 'Contact') {
    const c = store.contacts.get(ref.id);
    return c && contactPush(c);
  }
  if (ref.type === 'User') {
    const u = store.users.get(ref.id);
    return u && userPush(u);
  }
  const b = store.bots.get(ref.id);
  return b && botPush(b);
}

function attachmentsOf(ctx: SimContext, m: Message): Record<string, unknown>[] {
  const inbox = ctx.store.inboxes.get(m.inboxId);
  return m.attachments.map((a) => attachmentJson(ctx, a, is413(inbox)));
}

/** api/v1/models/_message.json.jbuilder (create/update/destroy/index responses). */
export function messageJson(ctx: SimContext, m: Message, echoId: string | null = null): Record<string, unknown> {
  const conv = ctx.store.conversationOf(m);
  const json: Record<string, unknown> = { id: m.id, content: m.content, inbox_id: m.inboxId };
  if (echoId !== null) json.echo_id = echoId;
  Object.assign(json, {
    conversation_id: conv.displayId,
    message_type: MESSAGE_TYPE_INT[m.messageType],
    content_type: m.contentType,
    status: m.status,
    content_attributes: m.contentAttributes,
    created_at: unix(m.createdAt),
    private: m.private,
    source_id: m.sourceId,
  });
  const sender = senderPush(ctx, m.sender);
  if (sender) json.sender = sender;
  if (m.attachments.length > 0) json.attachments = attachmentsOf(ctx, m);
  return json;
}

/** Message#push_event_data: every column plus display id, int type and a conversation stub. */
export function messagePush(ctx: SimContext, m: Message): Record<string, unknown> {
  const conv = ctx.store.conversationOf(m);
  const ci = ctx.store.contactInboxes.get(conv.contactInboxId);
  const json: Record<string, unknown> = {
    id: m.id,
    content: m.content,
    account_id: m.accountId,
    inbox_id: m.inboxId,
    conversation_id: conv.displayId,
    message_type: MESSAGE_TYPE_INT[m.messageType],
    created_at: unix(m.createdAt),
    updated_at: iso(m.updatedAt),
    private: m.private,
    status: m.status,
    source_id: m.sourceId,
    content_type: m.contentType,
    content_attributes: m.contentAttributes,
    sender_type: m.sender?.type ?? null,
    sender_id: m.sender?.id ?? null,
    external_source_ids: {},
    additional_attributes: m.additionalAttributes,
    processed_message_content: m.content,
    sentiment: {},
    conversation: {
      assignee_id: conv.assigneeId,
      unread_count: conv.unreadIncoming,
      last_activity_at: unix(conv.lastActivityAt),
      contact_inbox: { source_id: ci?.sourceId ?? null },
    },
  };
  if (m.attachments.length > 0) json.attachments = attachmentsOf(ctx, m);
  const sender = senderPush(ctx, m.sender);
  if (sender) json.sender = sender;
  return json;
}

/** api/v1/models/_agent.json.jbuilder, used for meta.assignee. */
function agentJson(u: User, accountId: number): Record<string, unknown> {
  return {
    id: u.id,
    account_id: accountId,
    availability_status: 'online',
    auto_offline: true,
    confirmed: true,
    email: u.email,
    available_name: u.name,
    name: u.name,
    role: u.roles.get(accountId) ?? 'agent',
    thumbnail: '',
    custom_role_id: null,
  };
}

/** conversations/partials/_conversation.json.jbuilder; `id` is the display_id. */
export function conversationJson(ctx: SimContext, conv: Conversation): Record<string, unknown> {
  const { store } = ctx;
  const inbox = store.inboxes.get(conv.inboxId);
  const contact = store.contacts.get(conv.contactId);
  const ci = store.contactInboxes.get(conv.contactInboxId);
  const assignee = conv.assigneeId === null ? undefined : store.users.get(conv.assigneeId);
  const meta: Record<string, unknown> = {
    sender: contact ? contactJson(ctx, contact, false) : null,
    channel: inbox?.channelType ?? null,
  };
  if (assignee) {
    meta.assignee = agentJson(assignee, conv.accountId);
    meta.assignee_type = 'User';
  }
  meta.hmac_verified = ci?.hmacVerified ?? false;
  const last = conv.messages.at(-1);
  let lastNonActivity: Message | undefined;
  for (let i = conv.messages.length - 1; i >= 0 && !lastNonActivity; i--) {
    const m = conv.messages[i];
    if (m && m.messageType !== 'activity') lastNonActivity = m;
  }
  return {
    meta,
    id: conv.displayId,
    messages: last ? [messagePush(ctx, last)] : [],
    account_id: conv.accountId,
    uuid: conv.uuid,
    additional_attributes: conv.additionalAttributes,
    agent_last_seen_at: unixOrZero(conv.agentLastSeenAt),
    assignee_last_seen_at: unixOrZero(conv.assigneeLastSeenAt),
    can_reply: inbox ? canReply(conv, inbox, ctx.now()) : true,
    contact_last_seen_at: unixOrZero(conv.contactLastSeenAt),
    custom_attributes: conv.customAttributes,
    inbox_id: conv.inboxId,
    labels: conv.labels,
    muted: contact?.blocked ?? false,
    snoozed_until: isoOrNull(conv.snoozedUntil),
    status: conv.status,
    created_at: unix(conv.createdAt),
    updated_at: conv.updatedAt / 1000,
    timestamp: unix(conv.lastActivityAt),
    first_reply_created_at: unixOrZero(conv.firstReplyCreatedAt),
    unread_count: conv.unreadIncoming,
    last_non_activity_message: lastNonActivity ? messagePush(ctx, lastNonActivity) : null,
    last_activity_at: unix(conv.lastActivityAt),
    priority: conv.priority,
    waiting_since: unixOrZero(conv.waitingSince),
    sla_policy_id: null,
  };
}
