/**
 * The slice of Evolution's request validation a client can run into: jsonschema messages (with
 * "instance." stripped, or the schema's description) and class-validator's isURL/isBase64, whose
 * strictness decides whether `media` is accepted at all (e.g. http://localhost/x.png is NOT a URL
 * for class-validator: no TLD).
 */
import { badRequest } from './errors.js';

type Json = Record<string, unknown>;

export interface FieldRule {
  type: 'string' | 'integer' | 'boolean' | 'object' | 'array';
  required?: boolean;
  enum?: readonly string[];
  /** jsonschema reports the description instead of its own message when one is set. */
  description?: string;
  /** isNotEmpty(): minLength 1 with "The "<name>" cannot be empty". */
  notEmpty?: boolean;
}

function typeOk(v: unknown, type: FieldRule['type']): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
  }
}

/** Validate a body against flat rules; throws Evolution's 400 with every message. */
export function validateBody(body: Json, rules: Record<string, FieldRule>): void {
  const errors: string[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    const v = body[name];
    if (v === undefined) {
      if (rule.required) errors.push(`instance requires property "${name}"`);
      continue;
    }
    if (!typeOk(v, rule.type)) {
      errors.push(rule.description ?? `${name} is not of a type(s) ${rule.type}`);
      continue;
    }
    if (rule.enum && !rule.enum.includes(v as string)) {
      errors.push(rule.description ?? `${name} is not one of enum values: ${rule.enum.join(',')}`);
    }
    if (rule.notEmpty && typeof v === 'string' && v.length < 1) errors.push(`The "${name}" cannot be empty`);
  }
  if (errors.length > 0) throw badRequest(...errors);
}

/** class-validator isBase64 (standard alphabet, padded, length multiple of 4). */
export function isBase64(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length % 4 !== 0) return false;
  return /^[A-Za-z0-9+/]+={0,2}$/.test(v) && !/=[^=]/.test(v);
}

/** class-validator isURL with defaults: http/https/ftp, a host with a TLD or an IP address. */
export function isURL(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || /\s/.test(v)) return false;
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`);
  } catch {
    return false;
  }
  if (!['http:', 'https:', 'ftp:'].includes(u.protocol)) return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':')) return true;
  const labels = host.split('.');
  const tld = labels[labels.length - 1] ?? '';
  return labels.length >= 2 && /^[a-z\u00a1-\uffff]{2,}$/i.test(tld);
}
