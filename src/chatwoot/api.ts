import type { ChatwootTarget } from '../config/config.js';
import { JsonHttp, type Result } from './http.js';

/** The parts of Chatwoot's application API evosync uses (reference: chatwoot-api.md §3). */
export interface CwContact {
  id: number;
  name?: string;
  phone_number?: string | null;
  identifier?: string | null;
  contact_inboxes?: { source_id: string; inbox?: { id: number } }[];
}
export interface CwConversation {
  id: number; // display id
  inbox_id: number;
  status: string;
  contact_inbox?: { source_id?: string } | null;
  last_activity_at?: number;
}
export interface CwMessage {
  id: number;
  conversation_id?: number;
  source_id?: string | null;
  message_type?: number | string;
  content?: string | null;
}

export interface NewCwMessage {
  /** Empty content is left out: a media message without a caption is just its attachment. */
  content: string;
  message_type: 'incoming' | 'outgoing';
  private?: boolean;
  source_id?: string;
  content_attributes?: Record<string, unknown>;
}

/** A file uploaded with a message as a multipart `attachments[]` part (reference §8). */
export interface NewCwAttachment {
  fileName: string;
  contentType: string;
  data: Buffer;
}

export class ChatwootApi {
  readonly http: JsonHttp;
  readonly target: ChatwootTarget;
  readonly #account: string;

  constructor(target: ChatwootTarget, timeoutMs: number) {
    this.target = target;
    this.#account = `/api/v1/accounts/${target.accountId}`;
    this.http = new JsonHttp(target.url, { timeoutMs, headers: { api_access_token: target.apiToken } });
  }

  /** Exact-match contact lookup (filter), never the substring search. */
  async filterContacts(attribute: 'phone_number' | 'identifier', value: string): Promise<Result<CwContact[]>> {
    const r = await this.http.request<{ payload?: CwContact[] }>({
      method: 'POST',
      path: `${this.#account}/contacts/filter`,
      query: { page: 1 },
      json: { payload: [{ attribute_key: attribute, filter_operator: 'equal_to', values: [value], query_operator: null }] },
    });
    return r.ok ? { ok: true, status: r.status, value: r.value.payload ?? [] } : r;
  }

  async createContact(body: { inbox_id: number; source_id: string; name: string; phone_number?: string; identifier?: string }): Promise<Result<CwContact>> {
    const r = await this.http.request<{ payload?: { contact?: CwContact } }>({ method: 'POST', path: `${this.#account}/contacts`, json: body });
    if (!r.ok) return r;
    const contact = r.value.payload?.contact;
    if (!contact || typeof contact.id !== 'number') {
      return { ok: false, failure: { kind: 'rejected', status: r.status, message: 'contact create answered without payload.contact.id' } };
    }
    return { ok: true, status: r.status, value: contact };
  }

  async contactConversations(contactId: number): Promise<Result<CwConversation[]>> {
    const r = await this.http.request<{ payload?: CwConversation[] }>({ method: 'GET', path: `${this.#account}/contacts/${contactId}/conversations` });
    return r.ok ? { ok: true, status: r.status, value: r.value.payload ?? [] } : r;
  }

  getConversation(displayId: number): Promise<Result<CwConversation>> {
    return this.http.request<CwConversation>({ method: 'GET', path: `${this.#account}/conversations/${displayId}` });
  }

  createConversation(body: { inbox_id: number; contact_id: number; source_id?: string; status?: 'open' | 'pending' }): Promise<Result<CwConversation>> {
    return this.http.request<CwConversation>({ method: 'POST', path: `${this.#account}/conversations`, json: body });
  }

  /**
   * With attachments the same endpoint takes multipart/form-data: the fields as form fields and
   * `content_attributes` as a JSON string, which Chatwoot parses (reference §3.4, §8).
   */
  createMessage(conversationId: number, body: NewCwMessage, attachments: readonly NewCwAttachment[] = []): Promise<Result<CwMessage>> {
    const path = `${this.#account}/conversations/${conversationId}/messages`;
    if (attachments.length === 0) return this.http.request<CwMessage>({ method: 'POST', path, json: body });
    const fields: [string, string][] = [];
    if (body.content) fields.push(['content', body.content]);
    fields.push(['message_type', body.message_type]);
    if (body.private !== undefined) fields.push(['private', String(body.private)]);
    if (body.source_id !== undefined) fields.push(['source_id', body.source_id]);
    if (body.content_attributes) fields.push(['content_attributes', JSON.stringify(body.content_attributes)]);
    const files = attachments.map((a) => ({ field: 'attachments[]', fileName: a.fileName, contentType: a.contentType, data: a.data }));
    return this.http.request<CwMessage>({ method: 'POST', path, form: { fields, files } });
  }

  /** Messages with id > afterId, ascending, up to 100 per page (Chatwoot's `after` cursor). */
  async messagesAfter(conversationId: number, afterId: number): Promise<Result<CwMessage[]>> {
    const r = await this.http.request<{ payload?: CwMessage[] }>({ method: 'GET', path: `${this.#account}/conversations/${conversationId}/messages`, query: { after: afterId } });
    return r.ok ? { ok: true, status: r.status, value: r.value.payload ?? [] } : r;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
