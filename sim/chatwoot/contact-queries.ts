/**
 * Contact search (substring, the trap) and filter (exact, the right tool), as Chatwoot's
 * ContactsController#search and Contacts::FilterService behave. Search uses SQL LIKE semantics
 * including its wildcards (`_` matches any character) because the real query does not escape q.
 */
import { unix } from './coerce.js';
import { isResolved } from './contacts.js';
import { HttpError, unprocessable } from './errors.js';
import type { Contact } from './model.js';
import type { Store } from './store.js';

export const CONTACTS_PER_PAGE = 15;

/** SQL LIKE/ILIKE pattern → RegExp (`%` any run, `_` one char, backslash escapes). */
export function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\' && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i] as string);
    } else if (ch === '%') source += '[\\s\\S]*';
    else if (ch === '_') source += '[\\s\\S]';
    else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'iu' : 'u');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Ruby String#strip: whitespace and NUL at both ends. */
const rubyStrip = (s: string): string => s.replace(/^[\s\0]+|[\s\0]+$/g, '');

export interface ContactPage {
  contacts: Contact[];
  hasMore: boolean;
}

/** GET /contacts/search: name/email/phone ILIKE, identifier LIKE, all contacts, `limit per+1` paging. */
export function searchContacts(store: Store, accountId: number, q: unknown, page: number): ContactPage {
  if (typeof q !== 'string' || rubyStrip(q) === '') throw unprocessable('Specify search string with parameter q');
  const term = `%${rubyStrip(q)}%`;
  const ilike = likeToRegExp(term, true);
  const like = likeToRegExp(term, false);
  const hit = (v: string | null, re: RegExp): boolean => v !== null && re.test(v);
  const matches: Contact[] = [];
  const offset = Math.max(0, (page - 1) * CONTACTS_PER_PAGE);
  for (const c of store.contacts.values()) {
    if (c.accountId !== accountId) continue;
    const company = c.additionalAttributes.company_name;
    if (
      hit(c.name, ilike) ||
      hit(c.email, ilike) ||
      hit(c.phoneNumber, ilike) ||
      hit(c.identifier, like) ||
      (typeof company === 'string' && ilike.test(company))
    ) {
      matches.push(c);
      if (matches.length > offset + CONTACTS_PER_PAGE) break; // enough to know has_more
    }
  }
  const pageRows = matches.slice(offset, offset + CONTACTS_PER_PAGE);
  return { contacts: pageRows, hasMore: matches.length > offset + CONTACTS_PER_PAGE };
}

/** GET /contacts: resolved contacts only, total count. */
export function listContacts(store: Store, accountId: number): Contact[] {
  return [...store.contacts.values()].filter((c) => c.accountId === accountId && isResolved(c));
}

// ---- filter ------------------------------------------------------------------------------

type Getter = (c: Contact) => unknown;
interface FilterAttribute {
  get: Getter;
  operators: readonly string[];
  kind: 'text_ci' | 'text' | 'boolean' | 'date' | 'labels';
}

const TEXT_OPS = ['equal_to', 'not_equal_to', 'contains', 'does_not_contain'] as const;
const additional = (key: string): Getter => (c) => c.additionalAttributes[key] ?? null;

const FILTER_ATTRIBUTES: Record<string, FilterAttribute> = {
  name: { get: (c) => c.name, operators: TEXT_OPS, kind: 'text_ci' },
  email: { get: (c) => c.email, operators: TEXT_OPS, kind: 'text_ci' },
  phone_number: { get: (c) => c.phoneNumber, operators: [...TEXT_OPS, 'starts_with'], kind: 'text' },
  identifier: { get: (c) => c.identifier, operators: ['equal_to', 'not_equal_to'], kind: 'text_ci' },
  country_code: { get: additional('country_code'), operators: ['equal_to', 'not_equal_to'], kind: 'text_ci' },
  city: { get: additional('city'), operators: TEXT_OPS, kind: 'text_ci' },
  company: { get: additional('company_name'), operators: TEXT_OPS, kind: 'text_ci' },
  referer: { get: additional('referer'), operators: TEXT_OPS, kind: 'text_ci' },
  blocked: { get: (c) => c.blocked, operators: ['equal_to', 'not_equal_to'], kind: 'boolean' },
  created_at: { get: (c) => c.createdAt, operators: ['is_greater_than', 'is_less_than', 'days_before'], kind: 'date' },
  last_activity_at: {
    get: (c) => c.lastActivityAt,
    operators: ['is_greater_than', 'is_less_than', 'days_before'],
    kind: 'date',
  },
  labels: { get: () => null, operators: ['equal_to', 'not_equal_to', 'is_present', 'is_not_present'], kind: 'labels' },
};

type Predicate = (c: Contact) => boolean;

function conditionPredicate(cond: Record<string, unknown>, now: number): Predicate {
  const key = String(cond.attribute_key ?? '');
  const attr = FILTER_ATTRIBUTES[key];
  if (!attr) {
    throw unprocessable(
      `Invalid attribute key - [${key}]. The key should be one of [${Object.keys(FILTER_ATTRIBUTES).join(',')}] or a custom attribute defined in the account.`,
    );
  }
  const op = String(cond.filter_operator ?? '');
  if (!attr.operators.includes(op)) {
    throw unprocessable(`Invalid operator. The allowed operators for ${key} are [${attr.operators.join(',')}].`);
  }
  const values = Array.isArray(cond.values) ? cond.values : [cond.values];
  const first = values[0];
  if (attr.kind === 'labels') {
    // Nothing in the fake carries labels: `is_not_present` matches everyone, the rest nobody.
    return () => op === 'is_not_present' || op === 'not_equal_to';
  }
  if (attr.kind === 'date') return datePredicate(attr.get, op, first, now, key);
  if (attr.kind === 'boolean') {
    const wanted = first === true || first === 'true';
    return (c) => (op === 'equal_to' ? attr.get(c) === wanted : attr.get(c) !== wanted);
  }
  if (op === 'equal_to' || op === 'not_equal_to') {
    // FilterService#filter_values: phone → "+" + value without "+", others downcased; values[0] only.
    const raw = first === undefined || first === null ? '' : String(first);
    const value = key === 'phone_number' ? `+${raw.replace(/\+/g, '')}` : raw.toLowerCase();
    const norm = (v: unknown): string | null =>
      typeof v === 'string' ? (attr.kind === 'text_ci' ? v.toLowerCase() : v) : null;
    // SQL three-valued logic: NULL never matches IN nor NOT IN.
    return (c) => {
      const v = norm(attr.get(c));
      if (v === null) return false;
      return op === 'equal_to' ? v === value : v !== value;
    };
  }
  const term = String(first ?? '');
  const re = likeToRegExp(op === 'starts_with' ? `${term}%` : `%${term}%`, true);
  return (c) => {
    const v = attr.get(c);
    if (typeof v !== 'string') return false;
    return op === 'does_not_contain' ? !re.test(v) : re.test(v);
  };
}

function datePredicate(get: Getter, op: string, value: unknown, now: number, key: string): Predicate {
  let threshold: number;
  if (op === 'days_before') {
    const days = Number(value);
    if (!Number.isFinite(days)) throw unprocessable(`Invalid value. The values provided for ${key} are invalid`);
    threshold = now - days * 86_400_000;
  } else {
    threshold = Date.parse(String(value));
    if (Number.isNaN(threshold)) throw unprocessable(`Invalid value. The values provided for ${key} are invalid`);
  }
  return (c) => {
    const v = get(c);
    if (typeof v !== 'number') return false;
    return op === 'is_greater_than' ? unix(v) > unix(threshold) : unix(v) < unix(threshold);
  };
}

/**
 * POST /contacts/filter. Conditions are chained by each one's `query_operator` with SQL
 * precedence (AND binds tighter than OR), over resolved contacts only.
 */
export function filterContacts(store: Store, accountId: number, body: Record<string, unknown>, now: number): Contact[] {
  const payload = body.payload;
  // `params[:payload].each` on nil is a NoMethodError the controller does not rescue.
  if (!Array.isArray(payload) || payload.length === 0) throw new HttpError(500, { status: 500, error: 'Internal Server Error' });
  const groups: Predicate[][] = [[]];
  payload.forEach((raw, i) => {
    const cond = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    (groups[groups.length - 1] as Predicate[]).push(conditionPredicate(cond, now));
    if (i === payload.length - 1) return;
    const qo = typeof cond.query_operator === 'string' ? cond.query_operator.toLowerCase() : '';
    if (qo === 'or') groups.push([]);
    else if (qo !== 'and') {
      if (cond.query_operator === undefined || cond.query_operator === null) {
        // The SQL fragments are concatenated without a connector: a syntax error, i.e. 500.
        throw new HttpError(500, { status: 500, error: 'Internal Server Error' });
      }
      throw unprocessable('Query operator must be either "AND" or "OR"');
    }
  });
  return listContacts(store, accountId).filter((c) => groups.some((g) => g.every((p) => p(c))));
}
