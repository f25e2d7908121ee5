/**
 * Contact model rules and ContactInboxBuilder, reproduced from Chatwoot 4.10–4.13:
 * - email: downcased, blank → NULL, unique per account case-insensitively, Devise format;
 * - identifier: unique per account, exact (and a unique DB index, so even "" collides);
 * - phone_number: unique per account by validation only, format regex NOT anchored at the start.
 * These are exactly the rules that make naive "create contact" relays fail with 422s.
 */
import { castBool, castString, isBlank, isPlainObject } from './coerce.js';
import type { SimContext } from './context.js';
import { RecordNotUnique, ValidationErrors } from './errors.js';
import type { Contact, ContactInbox, Inbox } from './model.js';

/** Copied as written in Chatwoot (`\z` ≡ JS `$` without the m flag); no `^` on purpose. */
export const PHONE_REGEX = /\+[1-9]\d{1,14}$/;
/** Devise.email_regexp as configured by Chatwoot. */
const EMAIL_REGEX = /^[^@\s]+@[^@\s]+$/;

const CONTACT_STRING_ATTRS = [
  ['name', 'name'],
  ['email', 'email'],
  ['phone_number', 'phoneNumber'],
  ['identifier', 'identifier'],
] as const;

/** Applies permitted params the way `assign_attributes` + before_validation would. */
function assignAttributes(contact: Contact, params: Record<string, unknown>, mergeJson: boolean): void {
  for (const [param, field] of CONTACT_STRING_ATTRS) {
    if (!(param in params)) continue;
    const value = castString(params[param]);
    if (field === 'name') contact.name = value ?? '';
    else contact[field] = value;
  }
  if ('blocked' in params) contact.blocked = castBool(params.blocked) ?? false;
  for (const [param, field] of [
    ['additional_attributes', 'additionalAttributes'],
    ['custom_attributes', 'customAttributes'],
  ] as const) {
    const value = params[param];
    if (!isPlainObject(value)) continue; // `permit(x: {})` drops non-hashes silently
    contact[field] = mergeJson ? { ...contact[field], ...value } : { ...value };
  }
  // prepare_email_attribute: "So that the db unique constraint won't throw error when email is ''".
  contact.email = contact.email !== null && contact.email.trim() !== '' ? contact.email.toLowerCase() : null;
}

function validate(ctx: SimContext, contact: Contact): ValidationErrors {
  const errors = new ValidationErrors();
  const { store } = ctx;
  const other = (found: Contact | undefined): boolean => found !== undefined && found.id !== contact.id;
  if (!isBlank(contact.email) && contact.email !== null) {
    if (other(store.contactByEmail(contact.accountId, contact.email))) {
      errors.add('email', 'Email has already been taken');
    }
    if (!EMAIL_REGEX.test(contact.email)) errors.add('email', 'Email Invalid email');
  }
  if (contact.identifier !== null && !isBlank(contact.identifier)) {
    if (other(store.contactByIdentifier(contact.accountId, contact.identifier))) {
      errors.add('identifier', 'Identifier has already been taken');
    }
  }
  if (contact.phoneNumber !== null && !isBlank(contact.phoneNumber)) {
    if (other(store.contactByPhone(contact.accountId, contact.phoneNumber))) {
      errors.add('phone_number', 'Phone number has already been taken');
    }
    if (!PHONE_REGEX.test(contact.phoneNumber)) errors.add('phone_number', 'Phone number should be in e164 format');
  }
  if (contact.name.length > 255) errors.add('name', 'Name is too long (maximum is 255 characters)');
  return errors;
}

/** `Current.account.contacts.new(params).save!`; throws HttpError(422) or RecordNotUnique. */
export function createContact(ctx: SimContext, accountId: number, params: Record<string, unknown>): Contact {
  const now = ctx.now();
  const contact: Contact = {
    id: 0,
    accountId,
    name: '',
    email: null,
    phoneNumber: null,
    identifier: null,
    additionalAttributes: {},
    customAttributes: {},
    blocked: false,
    lastActivityAt: null,
    createdAt: now,
    updatedAt: now,
  };
  assignAttributes(contact, params, false);
  const errors = validate(ctx, contact);
  if (!errors.empty) throw errors.toRecordInvalid();
  contact.id = ctx.store.newContactId(); // sequences are not rolled back, so ids may have gaps
  ctx.store.insertContact(contact);
  return contact;
}

/** PUT/PATCH: custom/additional attributes are merged into the existing hashes. */
export function updateContact(ctx: SimContext, contact: Contact, params: Record<string, unknown>): Contact {
  const before = { ...contact };
  assignAttributes(contact, params, true);
  const errors = validate(ctx, contact);
  const identifierTaken =
    contact.identifier !== null &&
    contact.identifier !== before.identifier &&
    ctx.store.contactByIdentifier(contact.accountId, contact.identifier) !== undefined;
  if (!errors.empty || identifierTaken) {
    Object.assign(contact, before);
    if (!errors.empty) throw errors.toRecordInvalid();
    throw new RecordNotUnique('"index_contacts_on_identifier_and_account_id"');
  }
  if (JSON.stringify(before) !== JSON.stringify(contact)) contact.updatedAt = ctx.now();
  ctx.store.reindexContact(contact, before);
  return contact;
}

/**
 * ContactInboxBuilder for API / web-widget inboxes. A missing source_id becomes a random UUID;
 * an empty string yields no contact_inbox at all (`@source_id ||= …` keeps "", then
 * `create_contact_inbox if source_id.present?`). `first_or_create!` on the triple is idempotent,
 * and the same source_id on another contact re-raises RecordNotUnique for API inboxes.
 */
export function buildContactInbox(
  ctx: SimContext,
  contact: Contact,
  inbox: Inbox,
  sourceIdParam: unknown,
): ContactInbox | null {
  const given = castString(sourceIdParam);
  const sourceId = given ?? ctx.ids.uuid();
  if (isBlank(sourceId)) return null;
  const existing = ctx.store.contactInboxBySource(inbox.id, sourceId);
  if (existing && existing.contactId === contact.id) return existing;
  const now = ctx.now();
  return ctx.store.insertContactInbox({
    contactId: contact.id,
    inboxId: inbox.id,
    sourceId,
    hmacVerified: false,
    pubsubToken: ctx.ids.token(),
    createdAt: now,
    updatedAt: now,
  });
}

/** Chatwoot's `resolved_contacts` scope: contacts with an email, phone or identifier. */
export function isResolved(contact: Contact): boolean {
  return !!contact.email || !!contact.phoneNumber || !!contact.identifier;
}

