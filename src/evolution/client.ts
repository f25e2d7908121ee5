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

export interface FindMessagesQuery {
  /** Window bounds, epoch milliseconds, both inclusive. Evolution filters on seconds. */
  gte: number;
  lte: number;
  /** 1-based. */
  page: number;
  pageSize: number;
  /** Only this chat (matched on remoteJid OR the version's alternate field). */
  remoteJid?: string;
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

  constructor(url: string, apiKey: string, timeoutMs: number) {
    this.http = new JsonHttp(url, { timeoutMs, headers: { apikey: apiKey }, connections: 4 });
  }

  async findMessages(instance: string, q: FindMessagesQuery): Promise<Result<FindMessagesPage>> {
    if (!Number.isInteger(q.page) || q.page < 1) throw new RangeError(`page must be an integer >= 1 (got ${q.page})`);
    if (!Number.isInteger(q.pageSize) || q.pageSize < 1) throw new RangeError(`pageSize must be an integer >= 1 (got ${q.pageSize})`);
    if (!(q.gte <= q.lte)) throw new RangeError('gte must not be after lte');
    const key: Record<string, string> = {};
    // Prisma drops an empty OR branch unpredictably (prisma#23873): naming the chat in remoteJid
    // alone matches rows stored under it, which is what a stored-row query needs.
    if (q.remoteJid) key['remoteJid'] = q.remoteJid;
    const r = await this.http.request<unknown>({
      method: 'POST',
      path: `/chat/findMessages/${encodeURIComponent(instance)}`,
      json: {
        where: { ...(q.remoteJid ? { key } : {}), messageTimestamp: { gte: new Date(q.gte).toISOString(), lte: new Date(q.lte).toISOString() } },
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
