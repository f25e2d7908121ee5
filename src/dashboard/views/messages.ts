import type { LedgerMessage } from '../../ledger/ledger.js';
import { type Html, html } from '../html.js';
import { when } from './format.js';

const STATE_CLASS: Record<string, string> = { delivered: 'ok', dead: 'bad', pending: 'warn', skipped: '' };

export function searchView(q: string, rows: readonly LedgerMessage[]): Html {
  const hint = html`<p class="muted small">Search by WhatsApp message id, Chatwoot message or conversation id, or chat (JID or phone digits).</p>`;
  if (!q) return html`<h1>Messages</h1>${hint}`;
  if (rows.length === 0) return html`<h1>Messages</h1>${hint}<p>Nothing in the ledger matches <code>${q}</code>.</p>`;
  return html`<h1>Messages</h1>${hint}<table><thead><tr><th>Message</th><th>State</th><th>Instance / chat</th><th>Direction</th><th>Chatwoot</th><th>Received</th><th>Delivered</th></tr></thead><tbody>
${rows.map(
  (m) => html`<tr><td><a class="mono" href="/trace/${encodeURIComponent(m.waId)}">${m.waId}</a><br><span class="small muted">${m.event}</span></td>
<td><span class="badge ${STATE_CLASS[m.state] ?? ''}">${m.state}</span>${m.lastError ? html`<br><span class="small">${m.lastError}</span>` : ''}</td>
<td>${m.instance}<br><span class="mono small">${m.chat}</span></td><td class="small">${m.direction}</td>
<td class="small">${m.cwConversationId === null ? '—' : html`conversation ${m.cwConversationId}<br>message ${m.cwMessageId ?? '—'}`}</td>
<td class="small">${when(m.receivedAt)}</td><td class="small">${when(m.deliveredAt)}</td></tr>`,
)}</tbody></table>`;
}
