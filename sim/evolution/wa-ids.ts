/**
 * Identifiers as WhatsApp, Baileys and Evolution shape them, drawn from the seeded PRNG so a run
 * can be replayed. The message-id formats matter: Evolution derives `source` from the id alone
 * (Baileys getDevice), so a consumer sees exactly the device mix these ids encode.
 */
import type { Random } from '../shared/random.js';

const HEX = '0123456789ABCDEF';
const B36 = '0123456789abcdefghijklmnopqrstuvwxyz';

export function hex(rng: Random, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += HEX[Math.floor(rng.next() * 16)];
  return out;
}

function digits(rng: Random, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(Math.floor(rng.next() * 10));
  return out;
}

export type Device = 'android' | 'ios' | 'web' | 'desktop';

/**
 * A WhatsApp message id as the given device writes it. Android: 32 hex; iOS: "3A" + 18; WhatsApp
 * Web and Baileys (every API send): "3EB0" + 18; desktop: "3F" + 17 (19 chars, so neither the web
 * nor the android length rule catches it first).
 */
export function messageId(rng: Random, device: Device): string {
  switch (device) {
    case 'android':
      return hex(rng, 32);
    case 'ios':
      return '3A' + hex(rng, 18);
    case 'web':
      return '3EB0' + hex(rng, 18);
    case 'desktop':
      return '3F' + hex(rng, 17);
  }
}

/** Baileys getDevice: the `source` column is guessed from the id's shape only. */
export function deviceOf(id: string): string {
  if (/^3A.{18}$/.test(id)) return 'ios';
  if (/^3E.{20}$/.test(id)) return 'web';
  if (/^(.{21}|.{32})$/.test(id)) return 'android';
  if (/^(3F|.{18}$)/.test(id)) return 'desktop';
  return 'unknown';
}

/** Prisma's cuid() look-alike: 'c' + time + counter + randomness, 25 chars, lowercase base36. */
export function createCuid(rng: Random, clock: () => number): () => string {
  let counter = Math.floor(rng.next() * 1_679_616);
  return () => {
    counter = (counter + 1) % 1_679_616;
    const time = clock().toString(36).padStart(8, '0').slice(-8);
    const count = counter.toString(36).padStart(4, '0');
    let random = '';
    for (let i = 0; i < 12; i++) random += B36[Math.floor(rng.next() * 36)];
    return `c${time}${count}${random}`;
  };
}

/** RFC 4122 v4 layout from the PRNG (Instance.id and tokens; Evolution uses uuid v4 for both). */
export function uuid(rng: Random): string {
  const h = hex(rng, 32).toLowerCase().split('');
  h[12] = '4';
  h[16] = '89ab'[Math.floor(rng.next() * 4)] ?? '8';
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** A Brazilian mobile number (55 + area + 9 + 8 digits), the most common Evolution deployment. */
export function phoneNumber(rng: Random): string {
  const area = String(rng.int(11, 99));
  return `55${area}9${digits(rng, 8)}`;
}

export const pnJid = (number: string): string => `${number}@s.whatsapp.net`;

/** LIDs are opaque 14–15 digit user ids on the @lid server. */
export function lidJid(rng: Random): string {
  return `${rng.int(1, 2)}${digits(rng, rng.int(13, 14))}@lid`;
}

/** Modern group ids: 120363 + 12 digits @g.us. */
export function groupJid(rng: Random): string {
  return `120363${digits(rng, 12)}@g.us`;
}

export const isGroupJid = (jid: string): boolean => jid.endsWith('@g.us');
export const isLidJid = (jid: string): boolean => jid.endsWith('@lid');
export const userPart = (jid: string): string => jid.split('@')[0] ?? jid;

/**
 * Evolution's createJid(): turn what a client sends as `number` into a JID (digits, +, spaces and
 * parentheses tolerated; groups and LIDs pass through; long numbers become groups; the Mexican,
 * Argentinian and Brazilian 9th-digit rules applied).
 */
export function createJid(input: string): string {
  let number = input.replace(/:\d+/, '');
  if (number.includes('@g.us') || number.includes('@s.whatsapp.net') || number.includes('@lid')) return number;
  if (number.includes('@broadcast')) return number;
  number = number.replace(/\s/g, '').replace(/\+/g, '').replace(/\(/g, '').replace(/\)/g, '');
  number = (number.split(':')[0] ?? '').split('@')[0] ?? '';
  if (number.includes('-') && number.length >= 24) return `${number.replace(/[^\d-]/g, '')}@g.us`;
  number = number.replace(/\D/g, '');
  if (number.length >= 18) return `${number}@g.us`;
  number = formatMxAr(number);
  number = formatBr(number);
  return `${number}@s.whatsapp.net`;
}

function formatMxAr(n: string): string {
  const cc = Number(n.substring(0, 2));
  if ((cc === 52 || cc === 54) && n.length === 13) return n.substring(0, 2) + n.substring(3);
  return n;
}

/** Brazil: drop the 9th digit for landline-era area codes ≥ 31 when the number starts 7–9. */
function formatBr(n: string): string {
  const m = /^(\d{2})(\d{2})\d(\d{8})$/.exec(n);
  if (!m || m[1] !== '55') return n;
  const joker = Number((m[3] ?? '0')[0]);
  const ddd = Number(m[2]);
  if (joker < 7 || ddd < 31) return m[0];
  return `${m[1]}${m[2]}${m[3]}`;
}
