/**
 * /conversations endpoints (ConversationsController and the bot-accessible member actions).
 * `:id` in every URL is the per-account display_id.
 */
import type { FastifyInstance } from 'fastify';
import { RawResponse, registerApiRoute, type ApiCall, type ApiDeps } from './api.js';
import { castBool, castString, idParam, isBlank, isoOrNull, isPlainObject, rubyToI } from './coerce.js';
import { buildContactInbox } from './contacts.js';
import type { SimContext } from './context.js';
import {
  buildConversation,
  canAccessInbox,
  createActivityMessage,
  findConversations,
  parseStatus,
  parseTime,
  toggledStatus,
  updateConversation,
} from './conversations.js';
import { internalError, notAuthorizedForAction, notFound, RecordNotUnique, unprocessable } from './errors.js';
import { createMessage } from './messages.js';
import { PRIORITIES, type Account, type Actor, type ContactInbox, type Conversation, type Priority } from './model.js';
import { findContact, findInbox } from './routes-contacts.js';
import { conversationJson } from './views.js';

export function findConversation(ctx: SimContext, account: Account, actor: Actor, id: unknown): Conversation {
  const displayId = idParam(id);
  const conv = displayId === null ? undefined : ctx.store.conversationByDisplayId(account.id, displayId);
  if (!conv) throw notFound();
  const inbox = ctx.store.inboxes.get(conv.inboxId);
  if (!inbox || !canAccessInbox(actor, inbox)) throw notAuthorizedForAction();
  return conv;
}

function parsePriority(value: unknown): Priority | null {
  const p = castString(value);
  if (p === null || p === '') return null;
  if ((PRIORITIES as readonly string[]).includes(p)) return p as Priority;
  throw internalError(); // enum ArgumentError
}

/** ConversationsController#contact_inbox (before_action of create). */
function resolveContactInbox(ctx: SimContext, { account, actor, params }: ApiCall): ContactInbox {
  try {
    let ci: ContactInbox | null = null;
    if (!isBlank(params.inbox_id)) {
      const inbox = findInbox(ctx, account, params.inbox_id);
      if (!canAccessInbox(actor, inbox)) throw notAuthorizedForAction();
      ci = buildContactInbox(ctx, findContact(ctx, account, params.contact_id), inbox, params.source_id);
    }
    if (!ci) {
      // Legacy fallback: ContactInbox.find_by!(source_id:) — global, not scoped to account or inbox.
      const sourceId = castString(params.source_id);
      ci = (sourceId === null ? undefined : ctx.store.contactInboxesByGlobalSource(sourceId)[0]) ?? null;
      if (!ci) throw notFound();
      const inbox = ctx.store.inboxes.get(ci.inboxId);
      if (!inbox || !canAccessInbox(actor, inbox)) throw notAuthorizedForAction();
    }
    return ci;
  } catch (err) {
    if (err instanceof RecordNotUnique) throw unprocessable('source_id should be unique');
    throw err;
  }
}

export function registerConversationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { ctx } = deps;
  const route = (
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    handler: (c: ApiCall) => unknown,
    bot = false,
  ): void => registerApiRoute(app, deps, { method, path, handler, bot });

  const listQuery = (params: Record<string, unknown>) => ({
    inboxId: isBlank(params.inbox_id) ? null : rubyToI(params.inbox_id),
    status: castString(params.status) || 'open',
    assigneeType: castString(params.assignee_type) ?? 'all',
    sourceId: isBlank(params.source_id) ? null : castString(params.source_id),
    page: rubyToI(params.page ?? 1) || 1,
  });

  route('GET', '/conversations', ({ account, actor, params }) => {
    const { counts, page } = findConversations(ctx.store, account.id, actor, listQuery(params));
    return { data: { meta: counts, payload: page.map((c) => conversationJson(ctx, c)) } };
  });

  route('GET', '/conversations/meta', ({ account, actor, params }) => ({
    meta: findConversations(ctx.store, account.id, actor, listQuery(params)).counts,
  }));

  route(
    'POST',
    '/conversations',
    (call) => {
      const ci = resolveContactInbox(ctx, call);
      const { conversation } = buildConversation(ctx, ci, call.params);
      if (isPlainObject(call.params.message) && !isBlank(call.params.message)) {
        createMessage(ctx, conversation, call.actor, call.params.message);
      }
      return conversationJson(ctx, conversation);
    },
    true,
  );

  route('GET', '/conversations/:id', ({ account, actor, params }) =>
    conversationJson(ctx, findConversation(ctx, account, actor, params.id)),
  );

  route(
    'PATCH',
    '/conversations/:id',
    ({ account, actor, params }) => {
      const conv = findConversation(ctx, account, actor, params.id);
      if ('priority' in params) updateConversation(ctx, conv, { priority: parsePriority(params.priority) }, actor);
      return conversationJson(ctx, conv);
    },
    true,
  );

  route(
    'POST',
    '/conversations/:id/toggle_status',
    ({ account, actor, params }) => {
      const conv = findConversation(ctx, account, actor, params.id);
      if (!isBlank(params.status)) {
        const status = parseStatus(params.status);
        const snoozed = castString(params.snoozed_until);
        const patch: Parameters<typeof updateConversation>[2] = { status };
        if (snoozed !== null) patch.snoozedUntil = parseTime(snoozed);
        updateConversation(ctx, conv, patch, actor);
      } else {
        updateConversation(ctx, conv, { status: toggledStatus(conv) }, actor);
      }
      // An agent-role user re-opening a conversation takes it (should_assign_conversation?).
      if (conv.status === 'open' && actor.kind === 'user' && actor.user.roles.get(account.id) === 'agent') {
        const changes = updateConversation(ctx, conv, { assigneeId: actor.user.id }, null);
        if (changes.assignee_id) createActivityMessage(ctx, conv, `${actor.user.name} self-assigned this conversation`);
      }
      return {
        meta: {},
        payload: {
          success: true,
          conversation_id: conv.displayId,
          current_status: conv.status,
          snoozed_until: isoOrNull(conv.snoozedUntil),
        },
      };
    },
    true,
  );

  route(
    'POST',
    '/conversations/:id/toggle_priority',
    ({ account, actor, params }) => {
      const conv = findConversation(ctx, account, actor, params.id);
      updateConversation(ctx, conv, { priority: parsePriority(params.priority) }, actor);
      return new RawResponse(200, '');
    },
    true,
  );

  route(
    'POST',
    '/conversations/:id/custom_attributes',
    ({ account, actor, params }) => {
      const conv = findConversation(ctx, account, actor, params.id);
      const attrs = isPlainObject(params.custom_attributes) ? { ...params.custom_attributes } : {};
      updateConversation(ctx, conv, { customAttributes: attrs }, actor); // replaces the hash
      return { custom_attributes: conv.customAttributes };
    },
    true,
  );

  route(
    'POST',
    '/conversations/:id/toggle_typing_status',
    ({ account, actor, params }) => {
      const conv = findConversation(ctx, account, actor, params.id);
      const typing = castString(params.typing_status);
      if (typing === 'on' || typing === 'off') {
        ctx.emit({
          event: typing === 'on' ? 'conversation_typing_on' : 'conversation_typing_off',
          conversationPk: conv.pk,
          actor,
          isPrivate: castBool(params.is_private) ?? false,
        });
      }
      return new RawResponse(200, '');
    },
    true,
  );

  route('POST', '/conversations/:id/update_last_seen', ({ account, actor, params }) => {
    const conv = findConversation(ctx, account, actor, params.id);
    conv.agentLastSeenAt = ctx.now();
    if (conv.assigneeId !== null && actor.kind === 'user' && conv.assigneeId === actor.user.id) {
      conv.assigneeLastSeenAt = conv.agentLastSeenAt;
    }
    conv.unreadIncoming = 0;
    return new RawResponse(200, '');
  });
}
