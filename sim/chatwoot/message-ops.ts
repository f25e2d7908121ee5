/**
 * Everything done to existing messages: status PATCH (Messages::StatusUpdateService), the
 * webhook-failure marking, soft delete, retry, and MessageFinder's cursor pagination.
 * Each mutation fires message_updated only when something actually changed
 * (`return if previous_changes.blank?`), which is what ends the failed-webhook loop.
 */
import { castString } from './coerce.js';
import type { SimContext } from './context.js';
import { MESSAGE_STATUSES, type Conversation, type Json, type Message, type MessageStatus } from './model.js';

/** Rails `store_accessor` write: skipped when equal to the current value (absent == nil). */
function writeStoreKey(attrs: Json, key: string, value: unknown): void {
  const current = attrs[key] ?? null;
  if (current === value) return;
  attrs[key] = value;
}

/** Applies a mutation, then bumps updated_at and emits message_updated iff it changed anything. */
function mutate(ctx: SimContext, message: Message, apply: () => void): boolean {
  const before = JSON.stringify([message.status, message.content, message.contentType, message.contentAttributes]);
  const attachmentsBefore = message.attachments.length;
  apply();
  const after = JSON.stringify([message.status, message.content, message.contentType, message.contentAttributes]);
  if (before === after && attachmentsBefore === message.attachments.length) return false;
  message.updatedAt = ctx.now();
  ctx.emit({ event: 'message_updated', messageId: message.id });
  return true;
}

/**
 * PATCH …/messages/:id. Invalid statuses and read → delivered are silently ignored; external_error
 * is kept only with `failed` (any other status writes nil over it).
 */
export function updateMessageStatus(ctx: SimContext, message: Message, status: unknown, externalError: unknown): boolean {
  const next = castString(status);
  if (next === null || !(MESSAGE_STATUSES as readonly string[]).includes(next)) return false;
  if (message.status === 'read' && next === 'delivered') return false;
  return mutate(ctx, message, () => {
    message.status = next as MessageStatus;
    writeStoreKey(message.contentAttributes, 'external_error', next === 'failed' ? castString(externalError) : null);
  });
}

/** Webhooks::Trigger#handle_error for api_inbox message_* deliveries. */
export function markDeliveryFailed(ctx: SimContext, messageId: number, errorText: string): void {
  const message = ctx.store.messages.get(messageId);
  if (!message) return;
  mutate(ctx, message, () => {
    message.status = 'failed';
    writeStoreKey(message.contentAttributes, 'external_error', errorText);
  });
}

/** DELETE …/messages/:id is a soft delete: placeholder content, `{deleted: true}`, no attachments. */
export function softDeleteMessage(ctx: SimContext, message: Message): void {
  mutate(ctx, message, () => {
    message.content = 'This message was deleted';
    message.contentType = 'text';
    message.contentAttributes = { deleted: true };
    for (const a of message.attachments) ctx.store.attachmentsBySignedId.delete(a.signedId);
    message.attachments = [];
  });
}

/**
 * POST …/messages/:id/retry: status → sent, then content_attributes wiped (4.10.1/4.13.0). For
 * API inboxes nothing is re-sent; the consumer only sees message_updated events.
 */
export function retryMessage(ctx: SimContext, message: Message): void {
  updateMessageStatus(ctx, message, 'sent', null);
  mutate(ctx, message, () => {
    message.contentAttributes = {};
  });
}

/** First index whose id is ≥ `id` (conversation messages are in ascending id order). */
function lowerBound(list: readonly Message[], id: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as Message).id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface MessageListQuery {
  before: number | null;
  after: number | null;
  filterInternal: boolean;
}

/**
 * MessageFinder: latest 20 / 20 before / up to 100 after / up to 1000 in [after, before),
 * always returned ascending.
 */
export function listMessages(conv: Conversation, q: MessageListQuery): Message[] {
  const all = conv.messages;
  const keep = (m: Message): boolean => !q.filterInternal || (!m.private && m.messageType !== 'activity');
  const forward = (from: number, toExclusive: number, limit: number): Message[] => {
    const out: Message[] = [];
    for (let i = from; i < toExclusive && out.length < limit; i++) {
      const m = all[i] as Message;
      if (keep(m)) out.push(m);
    }
    return out;
  };
  const backward = (toExclusive: number, limit: number): Message[] => {
    const out: Message[] = [];
    for (let i = toExclusive - 1; i >= 0 && out.length < limit; i--) {
      const m = all[i] as Message;
      if (keep(m)) out.push(m);
    }
    return out.reverse();
  };
  if (q.after !== null && q.before !== null) {
    return forward(lowerBound(all, q.after), lowerBound(all, q.before), 1000);
  }
  if (q.before !== null) return backward(lowerBound(all, q.before), 20);
  if (q.after !== null) return forward(lowerBound(all, q.after + 1), all.length, 100);
  return backward(all.length, 20);
}
