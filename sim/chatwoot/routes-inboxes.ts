/**
 * /inboxes endpoints needed by a relay: list, show, the admin-only API-channel create and
 * webhook_url update, and 4.13's reset_secret. Agents only see the inboxes they are members of.
 */
import type { FastifyInstance } from 'fastify';
import type { Inbox } from './model.js';
import { registerApiRoute, type ApiDeps } from './api.js';
import { castBool, castString, isPlainObject } from './coerce.js';
import { canAccessInbox } from './conversations.js';
import { notAuthorizedForAction, notFound, ValidationErrors } from './errors.js';
import { findInbox } from './routes-contacts.js';
import { inboxJson } from './views.js';

export interface InboxRouteOptions {
  /** The installation is 4.13+: a new API channel gets its own signing `secret` (has_secure_token). */
  signing(): boolean;
}

export function registerInboxRoutes(app: FastifyInstance, deps: ApiDeps, opts: InboxRouteOptions): void {
  const { ctx } = deps;

  // Inboxes#create (admin; InboxPolicy#create?). Only the API channel is modelled: another
  // `channel.type` would build no channel, and the inbox then fails validation.
  registerApiRoute(app, deps, {
    method: 'POST',
    path: '/inboxes',
    handler: ({ account, isAdmin, params }) => {
      if (!isAdmin) throw notAuthorizedForAction();
      const channel = isPlainObject(params.channel) ? params.channel : {};
      const errors = new ValidationErrors();
      const name = castString(params.name);
      if (name === null || name.trim() === '') errors.add('name', "Name can't be blank");
      if (channel.type !== 'api') errors.add('channel', 'Channel must exist');
      const webhookUrl = 'webhook_url' in channel ? castString(channel.webhook_url) : null;
      if (webhookUrl !== null && webhookUrl.length > 2048) errors.add('webhook_url', 'Webhook url is too long (maximum is 2048 characters)');
      if (!errors.empty) throw errors.toRecordInvalid();
      const inboxes = [...ctx.store.inboxes.values()];
      const now = ctx.now();
      const inbox: Inbox = {
        id: Math.max(0, ...inboxes.map((i) => i.id)) + 1,
        accountId: account.id,
        name: name as string,
        channelId: inboxes.filter((i) => i.channelType === 'Channel::Api').length + 1,
        channelType: 'Channel::Api',
        webhookUrl: webhookUrl === '' ? null : webhookUrl,
        secret: opts.signing() ? ctx.ids.token() : null,
        hmacToken: ctx.ids.token(),
        identifier: ctx.ids.token(),
        hmacMandatory: castBool(channel.hmac_mandatory) ?? false,
        additionalAttributes: isPlainObject(channel.additional_attributes) ? { ...channel.additional_attributes } : {},
        lockToSingleConversation: false,
        websiteUrl: null,
        memberIds: new Set(),
        createdAt: now,
        updatedAt: now,
      };
      ctx.store.inboxes.set(inbox.id, inbox);
      return inboxJson(inbox, isAdmin);
    },
  });

  registerApiRoute(app, deps, {
    method: 'GET',
    path: '/inboxes',
    handler: ({ account, actor, isAdmin }) => ({
      payload: [...ctx.store.inboxes.values()]
        .filter((i) => i.accountId === account.id && canAccessInbox(actor, i))
        .map((i) => inboxJson(i, isAdmin)),
    }),
  });

  registerApiRoute(app, deps, {
    method: 'GET',
    path: '/inboxes/:id',
    handler: ({ account, actor, isAdmin, params }) => {
      const inbox = findInbox(ctx, account, params.id);
      if (!canAccessInbox(actor, inbox)) throw notAuthorizedForAction();
      return inboxJson(inbox, isAdmin);
    },
  });

  for (const method of ['PATCH', 'PUT'] as const) {
    registerApiRoute(app, deps, {
      method,
      path: '/inboxes/:id',
      handler: ({ account, isAdmin, params }) => {
        const inbox = findInbox(ctx, account, params.id);
        if (!isAdmin) throw notAuthorizedForAction();
        const channel = isPlainObject(params.channel) ? params.channel : {};
        const errors = new ValidationErrors();
        const webhookUrl = 'webhook_url' in channel ? castString(channel.webhook_url) : inbox.webhookUrl;
        if (webhookUrl !== null && webhookUrl.length > 2048) {
          errors.add('webhook_url', 'Webhook url is too long (maximum is 2048 characters)');
        }
        if (!errors.empty) throw errors.toRecordInvalid();
        if (typeof params.name === 'string' && params.name !== '') inbox.name = params.name;
        if ('lock_to_single_conversation' in params) {
          inbox.lockToSingleConversation = castBool(params.lock_to_single_conversation) ?? false;
        }
        if (inbox.channelType === 'Channel::Api') {
          inbox.webhookUrl = webhookUrl;
          if ('hmac_mandatory' in channel) inbox.hmacMandatory = castBool(channel.hmac_mandatory) ?? false;
          if (isPlainObject(channel.additional_attributes)) inbox.additionalAttributes = { ...channel.additional_attributes };
        }
        inbox.updatedAt = ctx.now();
        return inboxJson(inbox, isAdmin);
      },
    });
  }

  registerApiRoute(app, deps, {
    method: 'POST',
    path: '/inboxes/:id/reset_secret',
    handler: ({ account, isAdmin, params }) => {
      const inbox = findInbox(ctx, account, params.id);
      if (!isAdmin) throw notAuthorizedForAction();
      // Non-API inboxes 404; a ≤ 4.10 installation (no secret column) has no such route at all.
      if (inbox.channelType !== 'Channel::Api' || inbox.secret === null) throw notFound();
      inbox.secret = ctx.ids.token();
      return inboxJson(inbox, isAdmin);
    },
  });
}
