/**
 * Conversation rules: ConversationBuilder (always a new conversation unless the inbox locks to a
 * single one — there is no server-side "find the open one"), status changes with their
 * activity messages and events, and ConversationFinder for the list endpoint.
 */
import { castString, iso, isoOrNull, isPlainObject } from './coerce.js';
import type { SimContext } from './context.js';
import { ValidationErrors, internalError } from './errors.js';
import {
  CONVERSATION_STATUSES,
  type Actor,
  type Changes,
  type ContactInbox,
  type Conversation,
  type ConversationStatus,
  type Inbox,
  type Json,
} from './model.js';
import type { Store } from './store.js';

export const CONVERSATIONS_PER_PAGE = 25;

/** Conversation#allowed_keys? — only these changes fire conversation_updated. */
const UPDATE_EVENT_KEYS = new Set([
  'team_id',
  'assignee_id',
  'assignee_agent_bot_id',
  'status',
  'snoozed_until',
  'custom_attributes',
  'label_list',
  'waiting_since',
  'first_reply_created_at',
  'priority',
  'additional_attributes',
]);

export const actorName = (actor: Actor): string => (actor.kind === 'user' ? actor.user.name : actor.bot.name);

export function parseStatus(value: unknown): ConversationStatus {
  const s = castString(value);
  if (s !== null && (CONVERSATION_STATUSES as readonly string[]).includes(s)) return s as ConversationStatus;
  // ArgumentError "'x' is not a valid status" is not rescued anywhere: plain 500.
  throw internalError();
}

/** JsonbAttributesLengthValidator on conversations' additional/custom attributes. */
function validateJsonb(errors: ValidationErrors, attribute: string, label: string, value: Json): void {
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' && v.length > 1500) errors.add(attribute, `${label} ${key} length should be < 1500`);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 9_999_999_999) {
      errors.add(attribute, `${label} ${key} value should be < 9999999999`);
    }
  }
}

export interface CreateConversationParams {
  status?: unknown;
  snoozed_until?: unknown;
  assignee_id?: unknown;
  additional_attributes?: unknown;
  custom_attributes?: unknown;
}

/** ConversationBuilder#perform. Returns the conversation and whether it is new. */
export function buildConversation(
  ctx: SimContext,
  contactInbox: ContactInbox,
  params: CreateConversationParams,
): { conversation: Conversation; created: boolean } {
  const { store } = ctx;
  const inbox = store.inboxes.get(contactInbox.inboxId);
  const contact = store.contacts.get(contactInbox.contactId);
  if (!inbox || !contact) throw internalError();
  if (inbox.lockToSingleConversation) {
    const existing = store.conversationsOfContactInbox(contactInbox.id).at(-1);
    if (existing) return { conversation: existing, created: false };
  }
  const additional = isPlainObject(params.additional_attributes) ? { ...params.additional_attributes } : {};
  const custom = isPlainObject(params.custom_attributes) ? { ...params.custom_attributes } : {};
  const errors = new ValidationErrors();
  validateJsonb(errors, 'additional_attributes', 'Additional attributes', additional);
  validateJsonb(errors, 'custom_attributes', 'Custom attributes', custom);
  if (!errors.empty) throw errors.toRecordInvalid();
  let status: ConversationStatus = params.status !== undefined && params.status !== '' ? parseStatus(params.status) : 'open';
  if (contact.blocked) status = 'resolved'; // determine_conversation_status
  const assigneeId = Number(castString(params.assignee_id));
  const assignee = store.users.get(assigneeId);
  const snoozed = castString(params.snoozed_until);
  const now = ctx.now();
  const conversation = store.insertConversation({
    accountId: inbox.accountId,
    inboxId: inbox.id,
    contactId: contact.id,
    contactInboxId: contactInbox.id,
    uuid: ctx.ids.uuid(),
    status,
    priority: null,
    snoozedUntil: status === 'snoozed' && snoozed ? parseTime(snoozed) : null,
    assigneeId: assignee?.roles.has(inbox.accountId) ? assignee.id : null,
    additionalAttributes: additional,
    customAttributes: custom,
    labels: [],
    createdAt: now,
    updatedAt: now,
    lastActivityAt: now,
    waitingSince: now,
    firstReplyCreatedAt: null,
    agentLastSeenAt: null,
    assigneeLastSeenAt: null,
    contactLastSeenAt: null,
    messages: [],
    firstBySourceId: new Map(),
    unreadIncoming: 0,
  });
  ctx.emit({ event: 'conversation_created', conversationPk: conversation.pk });
  return { conversation, created: true };
}

/** Unix seconds or an ISO string → ms. */
export function parseTime(value: string): number | null {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

type ConvField = 'status' | 'snoozedUntil' | 'assigneeId' | 'waitingSince' | 'firstReplyCreatedAt' | 'priority' | 'customAttributes';
const FIELD_COLUMNS: Record<ConvField, string> = {
  status: 'status',
  snoozedUntil: 'snoozed_until',
  assigneeId: 'assignee_id',
  waitingSince: 'waiting_since',
  firstReplyCreatedAt: 'first_reply_created_at',
  priority: 'priority',
  customAttributes: 'custom_attributes',
};
const TIME_FIELDS = new Set<ConvField>(['snoozedUntil', 'waitingSince', 'firstReplyCreatedAt']);

/**
 * `conversation.update(...)`: applies the changes, then fires conversation_status_changed /
 * conversation_updated the way Conversation's after_update_commit callbacks do.
 */
export function updateConversation(
  ctx: SimContext,
  conv: Conversation,
  patch: Partial<Pick<Conversation, ConvField>>,
  actor: Actor | null,
): Changes {
  const changes: Changes = {};
  if (patch.status !== undefined && patch.status !== 'snoozed' && patch.snoozedUntil === undefined) {
    patch = { ...patch, snoozedUntil: null }; // ensure_snooze_until_reset
  }
  for (const [field, value] of Object.entries(patch) as Array<[ConvField, unknown]>) {
    const before = conv[field];
    if (JSON.stringify(before) === JSON.stringify(value)) continue;
    const show = (v: unknown): unknown => (TIME_FIELDS.has(field) ? isoOrNull(v as number | null) : v);
    changes[FIELD_COLUMNS[field]] = [show(before), show(value)];
    (conv as unknown as Record<string, unknown>)[field] = value;
  }
  if (Object.keys(changes).length === 0) return changes;
  const previousUpdatedAt = conv.updatedAt;
  conv.updatedAt = ctx.now();
  if (changes.status) {
    ctx.emit({ event: 'conversation_status_changed', conversationPk: conv.pk, changes: { status: changes.status } });
    if (actor) createActivityMessage(ctx, conv, statusActivityText(conv, actorName(actor)));
  }
  if (Object.keys(changes).some((k) => UPDATE_EVENT_KEYS.has(k))) {
    const all: Changes = { ...changes, updated_at: [iso(previousUpdatedAt), iso(conv.updatedAt)] };
    ctx.emit({ event: 'conversation_updated', conversationPk: conv.pk, changes: all });
  }
  return changes;
}

function statusActivityText(conv: Conversation, name: string): string {
  switch (conv.status) {
    case 'resolved':
      return `Conversation was marked resolved by ${name}`;
    case 'open':
      return `Conversation was reopened by ${name}`;
    case 'pending':
      return `Conversation was marked as pending by ${name}`;
    case 'snoozed':
      return `Conversation was snoozed by ${name}`;
  }
}

/** ActivityMessageJob: an activity row (no sender, never sent to webhooks). */
export function createActivityMessage(ctx: SimContext, conv: Conversation, content: string): void {
  const now = ctx.now();
  ctx.store.insertMessage(conv, {
    accountId: conv.accountId,
    inboxId: conv.inboxId,
    conversationPk: conv.pk,
    content,
    contentType: 'text',
    messageType: 'activity',
    private: false,
    sourceId: null,
    status: 'sent',
    contentAttributes: {},
    additionalAttributes: {},
    sender: null,
    createdAt: now,
    updatedAt: now,
    attachments: [],
  });
  conv.lastActivityAt = now;
}

/** toggle_status without a status: open ⇄ resolved; pending/snoozed become open. */
export function toggledStatus(conv: Conversation): ConversationStatus {
  return conv.status === 'open' ? 'resolved' : 'open';
}

/** ConversationPolicy#show? / InboxPolicy#show?: admins and bots pass, agents need membership. */
export function canAccessInbox(actor: Actor, inbox: Inbox): boolean {
  if (actor.kind === 'bot') return true;
  return actor.user.roles.get(inbox.accountId) === 'administrator' || inbox.memberIds.has(actor.user.id);
}

/** Conversations::MessageWindowService for API inboxes with agent_reply_time_window (hours). */
export function canReply(conv: Conversation, inbox: Inbox, now: number): boolean {
  const hours = Number(inbox.additionalAttributes.agent_reply_time_window);
  if (inbox.channelType !== 'Channel::Api' || !Number.isFinite(hours) || hours <= 0) return true;
  for (let i = conv.messages.length - 1; i >= 0; i--) {
    const m = conv.messages[i];
    if (m?.messageType === 'incoming') return now < m.createdAt + hours * 3_600_000;
  }
  return false;
}

export interface ConversationListQuery {
  inboxId: number | null;
  status: string;
  assigneeType: string;
  sourceId: string | null;
  page: number;
}

/** ConversationFinder#perform: counts before the assignee filter, 25 per page, newest activity first. */
export function findConversations(store: Store, accountId: number, actor: Actor, q: ConversationListQuery) {
  let candidates: Iterable<Conversation>;
  if (q.sourceId !== null) {
    // JOIN contact_inboxes ON source_id: use the index instead of scanning every conversation.
    const rows: Conversation[] = [];
    for (const ci of store.contactInboxesByGlobalSource(q.sourceId)) rows.push(...store.conversationsOfContactInbox(ci.id));
    candidates = rows;
  } else candidates = store.conversations.values();
  const userId = actor.kind === 'user' ? actor.user.id : -1;
  const visible: Conversation[] = [];
  for (const c of candidates) {
    if (c.accountId !== accountId) continue;
    if (q.inboxId !== null && c.inboxId !== q.inboxId) continue;
    if (q.status !== 'all' && c.status !== q.status) continue;
    const inbox = store.inboxes.get(c.inboxId);
    if (!inbox || !canAccessInbox(actor, inbox)) continue;
    visible.push(c);
  }
  const counts = {
    mine_count: visible.filter((c) => c.assigneeId === userId).length,
    assigned_count: visible.filter((c) => c.assigneeId !== null).length,
    unassigned_count: visible.filter((c) => c.assigneeId === null).length,
    all_count: visible.length,
  };
  const filtered = visible.filter((c) => {
    if (q.assigneeType === 'me') return c.assigneeId === userId;
    if (q.assigneeType === 'unassigned') return c.assigneeId === null;
    if (q.assigneeType === 'assigned') return c.assigneeId !== null;
    return true;
  });
  filtered.sort((a, b) => b.lastActivityAt - a.lastActivityAt || b.pk - a.pk);
  const start = (Math.max(1, q.page) - 1) * CONVERSATIONS_PER_PAGE;
  return { counts, page: filtered.slice(start, start + CONVERSATIONS_PER_PAGE) };
}

/** GET /contacts/:id/conversations: ≤ 20 across all inboxes, newest last_activity_at first. */
export function conversationsOfContact(store: Store, contactId: number, actor: Actor): Conversation[] {
  return store
    .conversationsOfContact(contactId)
    .filter((c) => {
      const inbox = store.inboxes.get(c.inboxId);
      return inbox !== undefined && canAccessInbox(actor, inbox);
    })
    .sort((a, b) => b.lastActivityAt - a.lastActivityAt || b.pk - a.pk)
    .slice(0, 20);
}

