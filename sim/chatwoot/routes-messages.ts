/**
 * /conversations/:conversation_id/messages endpoints (Conversations::MessagesController).
 * Only `create` is open to bot tokens.
 */
import type { FastifyInstance } from 'fastify';
import { registerApiRoute, type ApiCall, type ApiDeps } from './api.js';
import { idParam, isBlank, isoOrNull, rubyToI } from './coerce.js';
import type { SimContext } from './context.js';
import { HttpError, notFound } from './errors.js';
import { listMessages, retryMessage, softDeleteMessage, updateMessageStatus } from './message-ops.js';
import { createMessage } from './messages.js';
import type { Conversation, Message } from './model.js';
import { findConversation } from './routes-conversations.js';
import { contactPush, messageJson, userPush } from './views.js';

function findMessage(ctx: SimContext, conv: Conversation, id: unknown): Message {
  const messageId = idParam(id);
  const message = messageId === null ? undefined : ctx.store.messages.get(messageId);
  if (!message || message.conversationPk !== conv.pk) throw notFound();
  return message;
}

export function registerMessageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { ctx } = deps;
  const base = '/conversations/:conversation_id/messages';
  const conversationOf = ({ account, actor, params }: ApiCall): Conversation =>
    findConversation(ctx, account, actor, params.conversation_id);

  registerApiRoute(app, deps, {
    method: 'GET',
    path: base,
    handler: (call) => {
      const conv = conversationOf(call);
      const { params } = call;
      const messages = listMessages(conv, {
        before: isBlank(params.before) ? null : rubyToI(params.before),
        after: isBlank(params.after) ? null : rubyToI(params.after),
        filterInternal: !isBlank(params.filter_internal_messages),
      });
      const contact = ctx.store.contacts.get(conv.contactId);
      const assignee = conv.assigneeId === null ? undefined : ctx.store.users.get(conv.assigneeId);
      const meta: Record<string, unknown> = {
        labels: conv.labels,
        additional_attributes: conv.additionalAttributes,
        contact: contact ? contactPush(contact) : null,
      };
      if (assignee) meta.assignee = userPush(assignee);
      meta.agent_last_seen_at = isoOrNull(conv.agentLastSeenAt);
      meta.assignee_last_seen_at = isoOrNull(conv.assigneeLastSeenAt);
      return { meta, payload: messages.map((m) => messageJson(ctx, m)) };
    },
  });

  registerApiRoute(app, deps, {
    method: 'POST',
    path: base,
    bot: true,
    handler: (call) => {
      const conv = conversationOf(call);
      const { message, echoId } = createMessage(ctx, conv, call.actor, call.params);
      return messageJson(ctx, message, echoId);
    },
  });

  registerApiRoute(app, deps, {
    method: 'PATCH',
    path: `${base}/:id`,
    handler: (call) => {
      const conv = conversationOf(call);
      const inbox = ctx.store.inboxes.get(conv.inboxId);
      if (inbox?.channelType !== 'Channel::Api') {
        throw new HttpError(403, { error: 'Message status update is only allowed for API inboxes' });
      }
      const message = findMessage(ctx, conv, call.params.id);
      updateMessageStatus(ctx, message, call.params.status, call.params.external_error);
      return messageJson(ctx, message);
    },
  });

  registerApiRoute(app, deps, {
    method: 'DELETE',
    path: `${base}/:id`,
    handler: (call) => {
      const message = findMessage(ctx, conversationOf(call), call.params.id);
      softDeleteMessage(ctx, message);
      return messageJson(ctx, message);
    },
  });

  registerApiRoute(app, deps, {
    method: 'POST',
    path: `${base}/:id/retry`,
    handler: (call) => {
      const message = findMessage(ctx, conversationOf(call), call.params.id);
      retryMessage(ctx, message);
      return messageJson(ctx, message);
    },
  });
}
