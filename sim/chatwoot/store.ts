/**
 * The fake's "database": records plus the indexes Chatwoot has (or effectively relies on), so
 * every lookup on the hot path (message create, contact lookup, contact_inbox resolution) is a
 * hash hit instead of a scan — the benchmark measures evosync, not this fake.
 *
 * Uniqueness lives in the callers (validations) except where Chatwoot has a real unique DB
 * index; those are enforced here by throwing RecordNotUnique, because their HTTP outcome
 * (500 vs 422) depends on which controller rescues them.
 */
import { RecordNotUnique } from './errors.js';
import type {
  Account,
  Actor,
  AgentBot,
  Attachment,
  Contact,
  ContactInbox,
  Conversation,
  Inbox,
  Message,
  User,
} from './model.js';
import type { ChatwootSnapshot } from './types.js';

type ContactKeys = Pick<Contact, 'accountId' | 'email' | 'phoneNumber' | 'identifier'>;

export class Store {
  readonly accounts = new Map<number, Account>();
  readonly users = new Map<number, User>();
  readonly bots = new Map<number, AgentBot>();
  readonly inboxes = new Map<number, Inbox>();
  readonly contacts = new Map<number, Contact>();
  readonly contactInboxes = new Map<number, ContactInbox>();
  readonly conversations = new Map<number, Conversation>();
  readonly messages = new Map<number, Message>();
  readonly attachmentsBySignedId = new Map<string, Attachment>();
  private readonly tokens = new Map<string, Actor>();

  private readonly contactsByPhone = new Map<string, Contact>();
  private readonly contactsByIdentifier = new Map<string, Contact>();
  private readonly contactsByEmail = new Map<string, Contact>();
  private readonly ciByInboxSource = new Map<string, ContactInbox>();
  private readonly ciBySource = new Map<string, ContactInbox[]>();
  private readonly ciByContact = new Map<number, ContactInbox[]>();
  private readonly convByDisplay = new Map<string, Conversation>();
  private readonly convByContactInbox = new Map<number, Conversation[]>();
  private readonly convByContact = new Map<number, Conversation[]>();
  private readonly displaySequences = new Map<number, number>();

  private nextIds = { contact: 1, contactInbox: 1, conversation: 1, message: 1, attachment: 1, seq: 1 };

  // ---- principals -------------------------------------------------------------------------
  addUser(user: User): void {
    this.users.set(user.id, user);
    this.tokens.set(user.token, { kind: 'user', user });
  }

  addBot(bot: AgentBot): void {
    this.bots.set(bot.id, bot);
    this.tokens.set(bot.token, { kind: 'bot', bot });
  }

  actorForToken(token: string): Actor | undefined {
    return this.tokens.get(token);
  }

  // ---- contacts ---------------------------------------------------------------------------
  contactByPhone(accountId: number, phone: string): Contact | undefined {
    return this.contactsByPhone.get(`${accountId}|${phone}`);
  }

  contactByIdentifier(accountId: number, identifier: string): Contact | undefined {
    return this.contactsByIdentifier.get(`${accountId}|${identifier}`);
  }

  /** Emails are stored downcased, so this is the case-insensitive lookup. */
  contactByEmail(accountId: number, email: string): Contact | undefined {
    return this.contactsByEmail.get(`${accountId}|${email.toLowerCase()}`);
  }

  newContactId(): number {
    return this.nextIds.contact++;
  }

  insertContact(contact: Contact): void {
    // Unique DB index (identifier, account_id): even blank identifiers collide there.
    if (contact.identifier !== null && this.contactByIdentifier(contact.accountId, contact.identifier)) {
      throw new RecordNotUnique('"index_contacts_on_identifier_and_account_id"');
    }
    this.contacts.set(contact.id, contact);
    this.indexContact(contact);
  }

  /** Call after mutating email/phone/identifier, passing the values before the change. */
  reindexContact(contact: Contact, before: ContactKeys): void {
    this.unindexContact(before, contact);
    this.indexContact(contact);
  }

  deleteContact(contact: Contact): void {
    this.contacts.delete(contact.id);
    this.unindexContact(contact, contact);
  }

  private indexContact(c: Contact): void {
    if (c.phoneNumber) this.contactsByPhone.set(`${c.accountId}|${c.phoneNumber}`, c);
    if (c.identifier !== null) this.contactsByIdentifier.set(`${c.accountId}|${c.identifier}`, c);
    if (c.email) this.contactsByEmail.set(`${c.accountId}|${c.email.toLowerCase()}`, c);
  }

  private unindexContact(keys: ContactKeys, owner: Contact): void {
    const drop = (map: Map<string, Contact>, key: string): void => {
      if (map.get(key) === owner) map.delete(key);
    };
    if (keys.phoneNumber) drop(this.contactsByPhone, `${keys.accountId}|${keys.phoneNumber}`);
    if (keys.identifier !== null) drop(this.contactsByIdentifier, `${keys.accountId}|${keys.identifier}`);
    if (keys.email) drop(this.contactsByEmail, `${keys.accountId}|${keys.email.toLowerCase()}`);
  }

  // ---- contact inboxes --------------------------------------------------------------------
  contactInboxBySource(inboxId: number, sourceId: string): ContactInbox | undefined {
    return this.ciByInboxSource.get(`${inboxId}|${sourceId}`);
  }

  /** `ContactInbox.find_by(source_id:)`: global, not scoped to account or inbox; oldest first. */
  contactInboxesByGlobalSource(sourceId: string): readonly ContactInbox[] {
    return this.ciBySource.get(sourceId) ?? [];
  }

  contactInboxesOf(contactId: number): readonly ContactInbox[] {
    return this.ciByContact.get(contactId) ?? [];
  }

  insertContactInbox(ci: Omit<ContactInbox, 'id'>): ContactInbox {
    const key = `${ci.inboxId}|${ci.sourceId}`;
    if (this.ciByInboxSource.has(key)) throw new RecordNotUnique('"index_contact_inboxes_on_inbox_id_and_source_id"');
    const row: ContactInbox = { id: this.nextIds.contactInbox++, ...ci };
    this.contactInboxes.set(row.id, row);
    this.ciByInboxSource.set(key, row);
    push(this.ciBySource, row.sourceId, row);
    push(this.ciByContact, row.contactId, row);
    return row;
  }

  deleteContactInbox(ci: ContactInbox): void {
    this.contactInboxes.delete(ci.id);
    this.ciByInboxSource.delete(`${ci.inboxId}|${ci.sourceId}`);
    remove(this.ciBySource, ci.sourceId, ci);
    remove(this.ciByContact, ci.contactId, ci);
  }

  // ---- conversations ----------------------------------------------------------------------
  conversationByDisplayId(accountId: number, displayId: number): Conversation | undefined {
    return this.convByDisplay.get(`${accountId}|${displayId}`);
  }

  conversationsOfContactInbox(contactInboxId: number): readonly Conversation[] {
    return this.convByContactInbox.get(contactInboxId) ?? [];
  }

  conversationsOfContact(contactId: number): readonly Conversation[] {
    return this.convByContact.get(contactId) ?? [];
  }

  /** Assigns the internal pk and the per-account display_id (Chatwoot does it with a DB trigger). */
  insertConversation(conv: Omit<Conversation, 'pk' | 'displayId'>): Conversation {
    const displayId = (this.displaySequences.get(conv.accountId) ?? 0) + 1;
    this.displaySequences.set(conv.accountId, displayId);
    const row: Conversation = { pk: this.nextIds.conversation++, displayId, ...conv };
    this.conversations.set(row.pk, row);
    this.convByDisplay.set(`${row.accountId}|${displayId}`, row);
    push(this.convByContactInbox, row.contactInboxId, row);
    push(this.convByContact, row.contactId, row);
    return row;
  }

  // ---- messages ---------------------------------------------------------------------------
  /** Appends to the conversation; ids come from one global sequence like the messages PK. */
  insertMessage(conv: Conversation, msg: Omit<Message, 'id' | 'seq'>): Message {
    const row: Message = { id: this.nextIds.message++, seq: this.nextIds.seq++, ...msg };
    this.messages.set(row.id, row);
    conv.messages.push(row);
    if (row.sourceId !== null && !conv.firstBySourceId.has(row.sourceId)) conv.firstBySourceId.set(row.sourceId, row);
    return row;
  }

  newAttachmentId(): number {
    return this.nextIds.attachment++;
  }

  conversationOf(message: Message): Conversation {
    const conv = this.conversations.get(message.conversationPk);
    if (!conv) throw new Error(`message ${message.id} has no conversation`);
    return conv;
  }

  // ---- verifier view ----------------------------------------------------------------------
  snapshot(): ChatwootSnapshot {
    const snapshot: ChatwootSnapshot = { contacts: [], contactInboxes: [], conversations: [], messages: [] };
    for (const c of this.contacts.values()) {
      snapshot.contacts.push({
        id: c.id,
        name: c.name,
        phone_number: c.phoneNumber,
        identifier: c.identifier,
        email: c.email,
      });
    }
    for (const ci of this.contactInboxes.values()) {
      snapshot.contactInboxes.push({ id: ci.id, contact_id: ci.contactId, inbox_id: ci.inboxId, source_id: ci.sourceId });
    }
    for (const conv of this.conversations.values()) {
      snapshot.conversations.push({
        id: conv.displayId,
        contact_id: conv.contactId,
        inbox_id: conv.inboxId,
        status: conv.status,
        contact_inbox_source_id: this.contactInboxes.get(conv.contactInboxId)?.sourceId ?? '',
      });
    }
    for (const m of this.messages.values()) {
      snapshot.messages.push({
        id: m.id,
        conversation_id: this.conversationOf(m).displayId,
        inbox_id: m.inboxId,
        content: m.content,
        message_type: m.messageType,
        private: m.private,
        source_id: m.sourceId,
        status: m.status,
        content_attributes: structuredClone(m.contentAttributes),
        created_at: Math.floor(m.createdAt / 1000),
        seq: m.seq,
        attachments: m.attachments.map((a) => ({
          file_type: a.fileType,
          content_type: a.contentType,
          file_name: a.fileName,
          file_size: a.data.length,
        })),
      });
    }
    return snapshot;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function remove<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (!list) return;
  const i = list.indexOf(value);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) map.delete(key);
}
