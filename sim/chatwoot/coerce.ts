/**
 * Rails-flavoured value coercions and seeded identifiers. Chatwoot receives everything through
 * ActionController params, so the fake must cast loosely-typed input the way Ruby/ActiveRecord
 * would ("12abc" → 12, "false" → false, 5511 → "5511") instead of rejecting it.
 */
import type { Random } from '../shared/random.js';

/** Ruby's String#to_i: leading optional sign and digits, otherwise 0. */
export function rubyToI(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : 0;
  if (typeof value !== 'string') return 0;
  const m = /^\s*([+-]?\d+)/.exec(value.replace(/_/g, ''));
  return m?.[1] ? Number.parseInt(m[1], 10) : 0;
}

/**
 * ActiveRecord integer cast as used by `find(params[:id])`: nil/blank → null (RecordNotFound
 * "without an ID"), otherwise the to_i value.
 */
export function idParam(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && value.trim() === '') return null;
  if (typeof value === 'boolean') return null;
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  return rubyToI(value);
}

const FALSE_VALUES = new Set(['false', '0', 'f', 'F', 'off', 'OFF', 'FALSE', 'False']);

/** ActiveModel::Type::Boolean: "" → nil, FALSE_VALUES → false, anything else → true. */
export function castBool(value: unknown): boolean | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  return !FALSE_VALUES.has(String(value));
}

/** A string column assigned from params: scalars are stringified, null stays null. */
export function castString(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Ruby's `blank?` for param values. */
export function isBlank(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** A JSON-style hash (not an array, Buffer or uploaded file part). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const HEX = '0123456789abcdef';
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Seeded identifier source so a whole run (tokens, uuids, delivery ids) replays from the seed. */
export interface IdSource {
  uuid(): string;
  /** `has_secure_token` style: 24 base58 characters. */
  token(length?: number): string;
  hex(length: number): string;
}

export function createIdSource(rng: Random): IdSource {
  const hex = (length: number): string => {
    let s = '';
    for (let i = 0; i < length; i++) s += HEX[rng.int(0, 15)];
    return s;
  };
  return {
    hex,
    uuid: () => {
      const variant = HEX[8 + rng.int(0, 3)] ?? '8';
      return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
    },
    token: (length = 24) => {
      let s = '';
      for (let i = 0; i < length; i++) s += BASE58[rng.int(0, BASE58.length - 1)];
      return s;
    },
  };
}

export const unix = (ms: number): number => Math.floor(ms / 1000);
export const iso = (ms: number): string => new Date(ms).toISOString();
/** Ruby `nil.to_i` is 0, which is what Chatwoot's views print for unset timestamps. */
export const unixOrZero = (ms: number | null): number => (ms === null ? 0 : unix(ms));
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
