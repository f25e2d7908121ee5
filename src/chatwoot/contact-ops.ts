import type { ChatwootApi, CwContact } from './api.js';
import type { Result } from './http.js';

/**
 * Contact calls beyond api.ts: look-ups by any of several values of one attribute in one request
 * (conditions chained with OR, as Chatwoot's filter allows), and setting a contact's phone once it
 * becomes known (a contact first seen by LID only).
 */
const account = (api: ChatwootApi) => `/api/v1/accounts/${api.target.accountId}`;

export async function filterContactsAny(api: ChatwootApi, attribute: 'phone_number' | 'identifier', values: readonly string[]): Promise<Result<CwContact[]>> {
  const payload = values.map((v, i) => ({ attribute_key: attribute, filter_operator: 'equal_to', values: [v], query_operator: i < values.length - 1 ? 'or' : null }));
  const r = await api.http.request<{ payload?: CwContact[] }>({ method: 'POST', path: `${account(api)}/contacts/filter`, query: { page: 1 }, json: { payload } });
  return r.ok ? { ok: true, status: r.status, value: r.value.payload ?? [] } : r;
}

/** PUT /contacts/{id}: only the phone; Chatwoot merges nothing else here (422 when another contact has it). */
export function setContactPhone(api: ChatwootApi, contactId: number, phoneE164: string): Promise<Result<unknown>> {
  return api.http.request({ method: 'PUT', path: `${account(api)}/contacts/${contactId}`, json: { phone_number: phoneE164 } });
}
