/** WhatsApp JID helpers. A JID is `<user>@<server>`; Evolution uses s.whatsapp.net, lid and g.us. */

export const PHONE_SERVER = 's.whatsapp.net';

export function isLid(jid: string | null | undefined): boolean {
  return !!jid && jid.endsWith('@lid');
}

export function isGroup(jid: string | null | undefined): boolean {
  return !!jid && jid.endsWith('@g.us');
}

export function isPhoneJid(jid: string | null | undefined): boolean {
  return !!jid && (jid.endsWith('@s.whatsapp.net') || jid.endsWith('@c.us'));
}

/** Digits of a phone JID, dropping a device suffix (`5511…:12@s.whatsapp.net`). */
export function phoneDigits(jid: string): string | null {
  if (!isPhoneJid(jid)) return null;
  const at = jid.indexOf('@');
  const colon = jid.indexOf(':');
  const user = jid.slice(0, colon !== -1 && colon < at ? colon : at);
  return /^\d{5,20}$/.test(user) ? user : null;
}

/** Normalises a phone JID to `<digits>@s.whatsapp.net` (no device suffix, no legacy c.us). */
export function normalizePhoneJid(jid: string): string {
  const digits = phoneDigits(jid);
  return digits ? `${digits}@${PHONE_SERVER}` : jid;
}

/** Statuses, broadcasts and the server itself are not chats with a customer. */
export function isNonChat(jid: string): boolean {
  return jid === 'status@broadcast' || jid.endsWith('@broadcast') || jid.endsWith('@newsletter') || jid === '0@s.whatsapp.net';
}
