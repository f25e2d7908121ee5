import type { ChatwootTarget } from '../config/config.js';
import { chatwootRules, type ChatwootLimits, type RateLimiter } from '../redis/rate-limit.js';
import { JsonHttp, type Result } from './http.js';
import type { TurnCredits } from './turn-credits.js';

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
  /** Unix seconds. */
  last_activity_at?: number;
  meta?: { sender?: { identifier?: string | null; phone_number?: string | null } | null } | null;
}
export interface CwMessage {
  id: number;
  conversation_id?: number;
  source_id?: string | null;
  message_type?: number | string;
  content?: string | null;
  private?: boolean;
  status?: string;
  /** Unix seconds in REST answers. */
  created_at?: number | string;
  content_type?: string;
  content_attributes?: Record<string, unknown> | null;
  sender?: { id?: number; name?: string | null; type?: string | null } | null;
  attachments?: { file_type?: string | null; data_url?: string | null; content_type?: string | null; extension?: string | null }[];
}

/** Chatwoot's conversation list page size (CONVERSATION_RESULTS_PER_PAGE, reference §3.3). */
export const CONVERSATIONS_PER_PAGE = 25;
/** Messages per `before=` (and cursor-less) page of the messages list (reference §3.4). */
export const MESSAGES_PER_BACKWARD_PAGE = 20;
/** Most messages an `after` + `before` range answers with (reference §3.4). */
export const MESSAGES_PER_RANGE_PAGE = 1000;

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

export interface ChatwootLimit {
  limiter: RateLimiter;
  limits: ChatwootLimits;
  /** Turns lanes already took (see turn-credits.ts), used before waiting for new ones. */
  credits?: TurnCredits;
}

export class ChatwootApi {
  readonly http: JsonHttp;
  readonly target: ChatwootTarget;
  readonly #account: string;

  /** `limit`: every request first waits for its turn under Chatwoot's rate limits (never earns a 429). */
  constructor(target: ChatwootTarget, timeoutMs: number, limit?: ChatwootLimit) {
    this.target = target;
    this.#account = `/api/v1/accounts/${target.accountId}`;
    // One Chatwoot server, one Rack::Attack: every target on it shares its per-IP budget.
    const host = new URL(target.url).host;
    const before = limit
      ? (method: string, path: string, signal?: AbortSignal) => {
          const rules = chatwootRules(host, method, path, limit.limits);
          if (rules.length === 0) return Promise.resolve();
          const credits = limit.credits;
          const now = Date.now();
          const due = credits ? rules.filter((r) => !credits.take(r.key, now)) : rules;
          return due.length === 0 ? Promise.resolve() : limit.limiter.acquire(due, signal);
        }
      : undefined;
    this.http = new JsonHttp(target.url, { timeoutMs, headers: { api_access_token: target.apiToken }, ...(before ? { before } : {}) });
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

  /**
   * One page of an inbox's conversations in every status, most recent activity first (reference
   * §3.3: 25 a page; `status` defaults to open, so `all` is asked for explicitly).
   */
  async listConversations(inboxId: number, page: number): Promise<Result<CwConversation[]>> {
    const r = await this.http.request<{ data?: { payload?: CwConversation[] } }>({
      method: 'GET',
      path: `${this.#account}/conversations`,
      query: { inbox_id: inboxId, status: 'all', assignee_type: 'all', sort_by: 'last_activity_at_desc', page },
    });
    return r.ok ? { ok: true, status: r.status, value: r.value.data?.payload ?? [] } : r;
  }

  /**
   * A conversation's messages without private notes and activity messages, ascending (reference
   * §3.4, MessageFinder): no cursor = the latest 20; `before` = the 20 before that id; `after` +
   * `before` = ids from `after` (inclusive) below `before`, up to 1000.
   */
  async listMessages(conversationId: number, cursor: { before?: number; after?: number }): Promise<Result<CwMessage[]>> {
    const query: Record<string, string | number | undefined> = { filter_internal_messages: 1, after: cursor.after, before: cursor.before };
    const r = await this.http.request<{ payload?: CwMessage[] }>({ method: 'GET', path: `${this.#account}/conversations/${conversationId}/messages`, query });
    return r.ok ? { ok: true, status: r.status, value: r.value.payload ?? [] } : r;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
