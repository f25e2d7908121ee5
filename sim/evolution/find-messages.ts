/**
 * POST /chat/findMessages (Baileys override of fetchMessages), with every quirk of the real query
 * (reference §4):
 * - `offset` is the page size (default 50), `page` is 1-based; no `limit`;
 * - always ORDER BY messageTimestamp DESC;
 * - the timestamp filter applies only when BOTH gte and lte are given (dates/ms → epoch seconds);
 * - key filters use truthiness, so `fromMe: false` is silently ignored (#1797);
 * - remoteJid is ANDed on its own and again inside OR[remoteJid, remoteJidAlt]; Prisma drops the
 *   empty `{}` branch of an OR (prisma#23873), so: remoteJid alone → remoteJid; remoteJidAlt alone →
 *   remoteJidAlt; both → remoteJid only (the alternate adds nothing);
 * - records are the stored rows (raw keys), jsonb key order, no Chatwoot columns, MessageUpdate
 *   statuses attached, pushName back-filled.
 */
import { altFilterField } from './lid.js';
import { jsonbOrder } from './proto-json.js';
import type { Row } from './store.js';
import type { LidConvention } from './types.js';

type Json = Record<string, unknown>;

export class QueryError extends Error {
  constructor(
    readonly status: number,
    readonly messages: unknown,
  ) {
    super(typeof messages === 'string' ? messages : JSON.stringify(messages));
  }
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** jsonb `=`: equal JSON values (primitives here; objects compared by their JSON text). */
const jsonEquals = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/** messageValidateSchema: key.{remoteJid,id} non-empty strings and fromMe boolean, only when every key property is one of those three. */
function validate(body: Json): void {
  const where = body['where'];
  if (where === undefined) return;
  if (!isObject(where)) throw new QueryError(400, ['where is not of a type(s) object']);
  const key = where['key'];
  if (key === undefined) return;
  if (!isObject(key)) throw new QueryError(400, ['where.key is not of a type(s) object']);
  const props = Object.keys(key);
  if (!props.every((p) => p === 'fromMe' || p === 'remoteJid' || p === 'id')) return;
  const errors: string[] = [];
  for (const p of ['remoteJid', 'id'] as const) {
    const v = key[p];
    if (v !== undefined && (typeof v !== 'string' || v.length < 1)) errors.push('The property cannot be empty');
  }
  if (key['fromMe'] !== undefined && typeof key['fromMe'] !== 'boolean') {
    errors.push('where.key.fromMe is not of a type(s) boolean');
  }
  if (errors.length > 0) throw new QueryError(400, errors);
}

/** `new Date(x).getTime() / 1000`, floored; NaN makes Prisma reject the query (500). */
function toSeconds(v: unknown): number {
  const s = Math.floor(new Date(v as string | number).getTime() / 1000);
  if (Number.isNaN(s)) throw new QueryError(500, 'Invalid `prisma.message.count()` invocation: Argument `gte`/`lte` is missing or NaN.');
  return s;
}

export function findMessages(sortedDesc: Row[], body: unknown, convention: LidConvention): Json {
  const query: Json = isObject(body) ? body : {};
  validate(query);
  const where: Json = isObject(query['where']) ? query['where'] : {};
  const key: Json = isObject(where['key']) ? where['key'] : {};
  const altField = altFilterField(convention);

  const preds: ((r: Row) => boolean)[] = [];
  // Top-level columns: Prisma ignores undefined only; null/'' are real filters.
  for (const col of ['id', 'source', 'messageType'] as const) {
    const v = where[col];
    if (v !== undefined && v !== null) preds.push((r) => r.msg[col] === v);
  }
  const ts = isObject(where['messageTimestamp']) ? where['messageTimestamp'] : null;
  if (ts && ts['gte'] && ts['lte']) {
    const gte = toSeconds(ts['gte']);
    const lte = toSeconds(ts['lte']);
    preds.push((r) => r.msg.messageTimestamp >= gte && r.msg.messageTimestamp <= lte);
  }
  for (const field of ['id', 'fromMe', 'remoteJid', 'participant'] as const) {
    const v = key[field];
    if (v) preds.push((r) => jsonEquals((r.msg.key as unknown as Json)[field], v));
  }
  const orBranches: ((r: Row) => boolean)[] = [];
  if (key['remoteJid']) orBranches.push((r) => jsonEquals(r.msg.key.remoteJid, key['remoteJid']));
  if (key[altField]) orBranches.push((r) => jsonEquals((r.msg.key as unknown as Json)[altField], key[altField]));
  if (orBranches.length > 0) preds.push((r) => orBranches.some((b) => b(r)));

  const matches = preds.length === 0 ? sortedDesc : sortedDesc.filter((r) => preds.every((p) => p(r)));
  const count = matches.length;

  const offset = query['offset'] ? query['offset'] : 50;
  const page = query['page'] ? query['page'] : 1;
  if (!Number.isInteger(offset) || !Number.isInteger(page)) {
    throw new QueryError(500, 'Invalid `prisma.message.findMany()` invocation: Argument `take`/`skip` must be an Int.');
  }
  const size = offset as number;
  const skip = size * ((page as number) === 1 ? 0 : (page as number) - 1);
  if (skip < 0 || size < 0) throw new QueryError(500, 'Invalid `prisma.message.findMany()` invocation: negative skip/take.');

  return {
    messages: {
      total: count,
      pages: Math.ceil(count / size),
      currentPage: page,
      records: matches.slice(skip, skip + size).map(toRecord),
    },
  };
}

/** The selected columns, in Prisma's select order; Json columns come back jsonb-ordered. */
function toRecord(r: Row): Json {
  const m = r.msg;
  let pushName: string | null = m.pushName || null;
  if (!pushName) {
    if (m.key.fromMe) pushName = 'Você';
    else if (m.contextInfo) {
      const p = (m.contextInfo['participant'] as string | undefined) ?? m.key.participant;
      if (p) pushName = p.split('@')[0] ?? null;
    }
  }
  return {
    id: m.id,
    key: jsonbOrder(m.key),
    pushName,
    messageType: m.messageType,
    message: jsonbOrder(m.message),
    messageTimestamp: m.messageTimestamp,
    instanceId: r.instanceId,
    source: m.source,
    contextInfo: jsonbOrder(m.contextInfo),
    MessageUpdate: r.updates.map((u) => ({ status: u.status })),
  };
}
