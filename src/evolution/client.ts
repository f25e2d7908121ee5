import { JsonHttp, type Result } from '../chatwoot/http.js';

/** One row of Evolution's `Message` table as `/chat/findMessages` returns it (raw key, no Chatwoot columns). */
export interface StoredRecord {
  id?: string;
  key: { id: string; remoteJid: string; fromMe?: boolean; [k: string]: unknown };
  pushName?: string | null;
  messageType?: string | null;
  message?: Record<string, unknown> | null;
  messageTimestamp: number | string | { low: number; high: number };
  contextInfo?: Record<string, unknown> | null;
  source?: string | null;
  [k: string]: unknown;
}

export type EvolutionSend =
  | { endpoint: 'sendText'; body: { number: string; text: string; quoted?: QuotedRef; linkPreview?: boolean } }
  | {
      endpoint: 'sendMedia';
      body: { number: string; mediatype: 'image' | 'video' | 'document' | 'audio'; mimetype?: string; caption?: string; fileName?: string; media: string; quoted?: QuotedRef };
    }
  | { endpoint: 'sendWhatsAppAudio'; body: { number: string; audio: string; quoted?: QuotedRef } };

export interface QuotedRef {
  key: { id: string; remoteJid?: string; fromMe?: boolean };
  message?: Record<string, unknown>;
}

export interface SentMessage {
  waId: string;
  remoteJid: string | null;
}

export interface FindMessagesQuery {
  /** Window bounds, epoch milliseconds, both inclusive. Evolution filters on seconds. */
  gte: number;
  lte: number;
  /** 1-based. */
  page: number;
  pageSize: number;
  /** Only this chat (matched on remoteJid OR the version's alternate field). */
  remoteJid?: string;
  /** Only messages sent from the business number (`fromMe: false` would be ignored by Evolution, #1797). */
  fromMe?: true;
}

export interface FindMessagesPage {
  total: number;
  pages: number;
  page: number;
  records: StoredRecord[];
}

/**
 * The few Evolution API calls reconciliation needs. `findMessages` hides the endpoint's quirks
 * (reference §4): `offset` is the page SIZE, `page` is 1-based, the date filter is silently dropped
 * unless BOTH bounds are sent (so both are always sent), and results are always newest first.
 */
export class EvolutionClient {
  readonly http: JsonHttp;

  /** `connections`: a few for reconciliation; the sender sizes it to the lanes delivering at once. */
  constructor(url: string, apiKey: string, timeoutMs: number, connections = 4) {
    this.http = new JsonHttp(url, { timeoutMs, headers: { apikey: apiKey }, connections });
  }

  /**
   * `/message/sendText|sendMedia|sendWhatsAppAudio`: there is no idempotency key, so a caller that
   * gets an ambiguous failure must look the message up before calling again. Answers the WhatsApp id.
   */
  async send(instance: string, req: EvolutionSend, signal?: AbortSignal): Promise<Result<SentMessage>> {
    const r = await this.http.request<unknown>({ method: 'POST', path: `/message/${req.endpoint}/${encodeURIComponent(instance)}`, json: req.body, signal });
    if (!r.ok) return r;
    const v = r.value as { key?: { id?: unknown; remoteJid?: unknown }; messageTimestamp?: unknown } | null;
    if (typeof v?.key?.id !== 'string' || !v.key.id) {
      // Evolution said 2xx, so it sent: without the id the send is ambiguous, never "not sent".
      return { ok: false, failure: { kind: 'ambiguous', status: r.status, message: 'send answered without key.id' } };
    }
    return { ok: true, status: r.status, value: { waId: v.key.id, remoteJid: typeof v.key.remoteJid === 'string' ? v.key.remoteJid : null } };
  }

  /** `DELETE /chat/deleteMessageForEveryone`: revokes a message; revoking twice changes nothing. */
  async deleteForEveryone(instance: string, key: { id: string; remoteJid: string; fromMe: boolean; participant?: string }, signal?: AbortSignal): Promise<Result<unknown>> {
    return this.http.request<unknown>({ method: 'DELETE', path: `/chat/deleteMessageForEveryone/${encodeURIComponent(instance)}`, json: key, signal });
  }

  async findMessages(instance: string, q: FindMessagesQuery): Promise<Result<FindMessagesPage>> {
    if (!Number.isInteger(q.page) || q.page < 1) throw new RangeError(`page must be an integer >= 1 (got ${q.page})`);
    if (!Number.isInteger(q.pageSize) || q.pageSize < 1) throw new RangeError(`pageSize must be an integer >= 1 (got ${q.pageSize})`);
    if (!(q.gte <= q.lte)) throw new RangeError('gte must not be after lte');
    const key: Record<string, string | boolean> = {};
    // Prisma drops an empty OR branch unpredictably (prisma#23873): naming the chat in remoteJid
    // alone matches rows stored under it, which is what a stored-row query needs.
    if (q.remoteJid) key['remoteJid'] = q.remoteJid;
    if (q.fromMe) key['fromMe'] = true;
    const r = await this.http.request<unknown>({
      method: 'POST',
      path: `/chat/findMessages/${encodeURIComponent(instance)}`,
      json: {
        where: { ...(Object.keys(key).length > 0 ? { key } : {}), messageTimestamp: { gte: new Date(q.gte).toISOString(), lte: new Date(q.lte).toISOString() } },
        page: q.page,
        offset: q.pageSize,
      },
    });
    if (!r.ok) return r;
    const m = (r.value as { messages?: { total?: unknown; pages?: unknown; currentPage?: unknown; records?: unknown } } | null)?.messages;
    if (!m || !Array.isArray(m.records) || typeof m.total !== 'number') {
      return { ok: false, failure: { kind: 'rejected', status: r.status, message: 'findMessages answered without messages.records/total (is DATABASE_SAVE_DATA_NEW_MESSAGE on?)' } };
    }
    // Not filtered here: a malformed row is counted and reported by whoever normalises it.
    const records = m.records as StoredRecord[];
    return { ok: true, status: r.status, value: { total: m.total, pages: typeof m.pages === 'number' ? m.pages : Math.ceil(m.total / q.pageSize), page: q.page, records } };
  }

  /** Names of the instances this key can see (`GET /instance/fetchInstances`; v2 `name`, v1 `instance.instanceName`). */
  async instanceNames(): Promise<Result<string[]>> {
    const r = await this.http.request<unknown>({ method: 'GET', path: '/instance/fetchInstances' });
    if (!r.ok) return r;
    const list = Array.isArray(r.value) ? r.value : [];
    const names = list
      .map((i) => {
        const o = i as { name?: unknown; instance?: { instanceName?: unknown } };
        return typeof o.name === 'string' ? o.name : typeof o.instance?.instanceName === 'string' ? o.instance.instanceName : null;
      })
      .filter((n): n is string => n !== null);
    return { ok: true, status: r.status, value: names };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
