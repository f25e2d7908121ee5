import type { ChatwootApi, CwContact } from '../chatwoot/api.js';
import type { Result } from '../chatwoot/http.js';
import { alertText } from './format.js';
import type { AlertEvent } from './kinds.js';
import type { AlertSink } from './sink.js';

/** The alerts contact's identifier and contact-inbox source id: one contact per inbox, found again after restarts. */
export const ALERTS_IDENTIFIER = 'evosync-alerts';
const ALERTS_NAME = 'evosync alerts';

/**
 * Posts alerts as private notes in an "evosync alerts" conversation of the configured inbox, so
 * agents see them where they work. Private notes never leave Chatwoot, and evosync's own Chatwoot
 * webhook ignores them, so nothing here can reach WhatsApp. It uses its own client (its own
 * connection pool): alert calls neither queue behind deliveries nor count in their figures.
 */
export class ChatwootSink implements AlertSink {
  readonly name = 'chatwoot' as const;
  readonly #api: ChatwootApi;
  #contactId: number | null = null;

  constructor(api: ChatwootApi) {
    this.#api = api;
  }

  async send(event: AlertEvent, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new Error('alert sending stopped');
    // Looked up for every alert (alerts are rare): an agent may have resolved or deleted it.
    const conversationId = await this.#conversation();
    const r = await this.#api.createMessage(conversationId, { content: alertText(event), message_type: 'outgoing', private: true });
    if (!r.ok) {
      if (r.failure.kind === 'not_found') this.#contactId = null;
      throw new Error(`posting the alert note failed: ${r.failure.message}`);
    }
  }

  /** Cuts a note still in flight: on shutdown an alert is not worth waiting for. */
  async close(): Promise<void> {
    await this.#api.http.destroy();
  }

  async #conversation(): Promise<number> {
    const contactId = await this.#contact();
    const inboxId = this.#api.target.inboxId;
    const list = unwrap(await this.#api.contactConversations(contactId), 'listing its conversations');
    const open = list.filter((c) => c.inbox_id === inboxId && c.status !== 'resolved').sort((a, b) => b.id - a.id)[0];
    if (open) return open.id;
    const created = unwrap(await this.#api.createConversation({ inbox_id: inboxId, contact_id: contactId, source_id: ALERTS_IDENTIFIER, status: 'open' }), 'creating its conversation');
    return created.id;
  }

  async #contact(): Promise<number> {
    if (this.#contactId !== null) return this.#contactId;
    const found = await this.#find();
    if (found) return (this.#contactId = found.id);
    const created = await this.#api.createContact({ inbox_id: this.#api.target.inboxId, source_id: ALERTS_IDENTIFIER, name: ALERTS_NAME, identifier: ALERTS_IDENTIFIER });
    if (created.ok) return (this.#contactId = created.value.id);
    // Another evosync process sharing the account created it a moment ago.
    if (/already been taken/i.test(created.failure.message)) {
      const again = await this.#find();
      if (again) return (this.#contactId = again.id);
    }
    throw new Error(`creating the alerts contact failed: ${created.failure.message}`);
  }

  async #find(): Promise<CwContact | undefined> {
    return unwrap(await this.#api.filterContacts('identifier', ALERTS_IDENTIFIER), 'looking up the alerts contact')[0];
  }
}

function unwrap<T>(r: Result<T>, doing: string): T {
  if (!r.ok) throw new Error(`${doing} failed: ${r.failure.message}`);
  return r.value;
}
