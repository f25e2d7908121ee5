/**
 * /contacts endpoints (ContactsController, Contacts::ContactInboxesController,
 * Contacts::ConversationsController). Contacts are never reachable with a bot token.
 */
import type { FastifyInstance } from 'fastify';
import { registerApiRoute, type ApiCall, type ApiDeps } from './api.js';
import { idParam, isBlank, rubyToI } from './coerce.js';
import { CONTACTS_PER_PAGE, filterContacts, listContacts, searchContacts } from './contact-queries.js';
import { buildContactInbox, createContact, updateContact } from './contacts.js';
import type { SimContext } from './context.js';
import { canAccessInbox, conversationsOfContact } from './conversations.js';
import { internalError, notAuthorizedForAction, notFound } from './errors.js';
import type { Account, Contact, Inbox } from './model.js';
import { contactInboxJson, contactJson, conversationJson, inboxRecordJson } from './views.js';

export function findContact(ctx: SimContext, account: Account, id: unknown): Contact {
  const contactId = idParam(id);
  const contact = contactId === null ? undefined : ctx.store.contacts.get(contactId);
  if (!contact || contact.accountId !== account.id) throw notFound();
  return contact;
}

export function findInbox(ctx: SimContext, account: Account, id: unknown): Inbox {
  const inboxId = idParam(id);
  const inbox = inboxId === null ? undefined : ctx.store.inboxes.get(inboxId);
  if (!inbox || inbox.accountId !== account.id) throw notFound();
  return inbox;
}

/** `params[:page] || 1`: echoed as given (a string when passed). */
const currentPage = (params: Record<string, unknown>): unknown => params.page ?? 1;

/** set_include_contact_inboxes: present → must equal the string 'true'; absent → true. */
const includeContactInboxes = (params: Record<string, unknown>): boolean =>
  isBlank(params.include_contact_inboxes) ? true : params.include_contact_inboxes === 'true';

function paginate<T>(rows: T[], page: unknown): T[] {
  const start = (Math.max(1, rubyToI(page) || 1) - 1) * CONTACTS_PER_PAGE;
  return rows.slice(start, start + CONTACTS_PER_PAGE);
}

export function registerContactRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { ctx } = deps;
  const route = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', path: string, handler: (c: ApiCall) => unknown): void =>
    registerApiRoute(app, deps, { method, path, handler });

  route('GET', '/contacts', ({ account, params }) => {
    const all = listContacts(ctx.store, account.id);
    const withCi = includeContactInboxes(params);
    return {
      meta: { count: all.length, current_page: currentPage(params) },
      payload: paginate(all, params.page).map((c) => contactJson(ctx, c, withCi)),
    };
  });

  route('GET', '/contacts/search', ({ account, params }) => {
    const page = rubyToI(params.page ?? 1);
    const result = searchContacts(ctx.store, account.id, params.q, page);
    const withCi = includeContactInboxes(params);
    return {
      meta: { count: result.contacts.length, current_page: currentPage(params), has_more: result.hasMore },
      payload: result.contacts.map((c) => contactJson(ctx, c, withCi)),
    };
  });

  route('POST', '/contacts/filter', ({ account, params }) => {
    const all = filterContacts(ctx.store, account.id, params, ctx.now());
    return {
      meta: { count: all.length, current_page: currentPage(params) },
      payload: paginate(all, params.page).map((c) => contactJson(ctx, c, true)),
    };
  });

  route('POST', '/contacts', ({ account, params }) => {
    // One transaction: contact.save!, then ContactInboxBuilder; any failure rolls the contact back.
    const contact = createContact(ctx, account.id, params);
    let inbox: Inbox | null = null;
    let sourceId: string | null = null;
    try {
      if (!isBlank(params.inbox_id) || params.inbox_id === 0) {
        inbox = findInbox(ctx, account, params.inbox_id);
        const ci = buildContactInbox(ctx, contact, inbox, params.source_id);
        sourceId = ci?.sourceId ?? null;
        if (!ci) inbox = null;
      }
    } catch (err) {
      for (const ci of [...ctx.store.contactInboxesOf(contact.id)]) ctx.store.deleteContactInbox(ci);
      ctx.store.deleteContact(contact);
      throw err;
    }
    return {
      payload: {
        contact: contactJson(ctx, contact, true),
        contact_inbox: { inbox: inbox ? inboxRecordJson(inbox) : null, source_id: sourceId },
      },
    };
  });

  route('GET', '/contacts/:id', ({ account, params }) => ({
    payload: contactJson(ctx, findContact(ctx, account, params.id), includeContactInboxes(params)),
  }));

  for (const method of ['PUT', 'PATCH'] as const) {
    route(method, '/contacts/:id', ({ account, params }) => {
      const contact = updateContact(ctx, findContact(ctx, account, params.id), params);
      return { payload: contactJson(ctx, contact, includeContactInboxes(params)) };
    });
  }

  route('GET', '/contacts/:id/conversations', ({ account, actor, params }) => {
    const contact = findContact(ctx, account, params.id);
    return { payload: conversationsOfContact(ctx.store, contact.id, actor).map((c) => conversationJson(ctx, c)) };
  });

  route('POST', '/contacts/:id/contact_inboxes', ({ account, actor, params }) => {
    const contact = findContact(ctx, account, params.id);
    const inbox = findInbox(ctx, account, params.inbox_id);
    if (!canAccessInbox(actor, inbox)) throw notAuthorizedForAction();
    const ci = buildContactInbox(ctx, contact, inbox, params.source_id);
    if (!ci) throw internalError(); // the view dereferences a nil contact_inbox
    return contactInboxJson(ctx, ci);
  });
}
