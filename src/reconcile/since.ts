import { ReconcileError } from './errors.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A window start from what an operator types: a look-back like `90s`, `30m`, `2h`, `1d`, `1w`, or
 * an ISO date-time. A bare number is refused: seconds and milliseconds are too easy to confuse.
 */
export function parseSince(text: string, nowMs: number): number {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(t);
  if (m) {
    const ms = Number(m[1]) * (UNITS[(m[2] as string).toLowerCase()] as number);
    if (ms > 0 && Number.isFinite(ms)) return nowMs - Math.round(ms);
  } else if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const at = Date.parse(t);
    if (!Number.isNaN(at) && at < nowMs) return at;
  }
  throw new ReconcileError('RECONCILE_INPUT_INVALID', `since: expected a look-back like 30m, 2h, 1d or a past ISO date-time, got "${text}"`);
}

/** A chat as an operator names it: a full JID, or phone digits (a 1:1 phone chat). */
export function parseChat(text: string): string {
  const t = text.trim();
  if (/^\+?\d{6,20}$/.test(t)) return `${t.replace(/^\+/, '')}@s.whatsapp.net`;
  if (/^[^@\s]+@(s\.whatsapp\.net|lid|g\.us)$/.test(t)) return t;
  throw new ReconcileError('RECONCILE_INPUT_INVALID', `chat: expected a JID (…@s.whatsapp.net, …@lid, …@g.us) or phone digits, got "${text}"`);
}
