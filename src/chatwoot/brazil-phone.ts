/**
 * Brazil's ninth digit. Mobile numbers gained a leading 9 (2012–2016), but WhatsApp accounts
 * created before that still have JIDs without it, so one person can be `55 DD 8 digits` in one
 * place (the WhatsApp JID) and `55 DD 9 8 digits` in another (a contact an agent typed, Chatwoot's
 * own WhatsApp channel, another integration). Chatwoot's WhatsApp channel and Evolution's built-in
 * integration both look a contact up under either form; so does evosync. Landlines (first local
 * digit 2–5) never had the 9, so they have no other form.
 */
export function brazilAlternate(digits: string): string | null {
  const m = /^55([1-9][1-9])(\d+)$/.exec(digits);
  if (!m) return null;
  const [, area, local] = m as unknown as [string, string, string];
  if (local.length === 9 && local.startsWith('9') && /^[6-9]/.test(local.slice(1))) return `55${area}${local.slice(1)}`;
  if (local.length === 8 && /^[6-9]/.test(local)) return `55${area}9${local}`;
  return null;
}
