import type { MessageTrace, RemoteView, TraceResult } from '../../trace/types.js';
import { type Html, html } from '../html.js';
import { when } from './format.js';

export function traceView(result: TraceResult, csrf: string): Html {
  if (result.traces.length === 0) return html`<h1>Trace</h1><p>No message in the ledger with WhatsApp id or Chatwoot message id <code>${result.query}</code>.</p>`;
  return html`<h1>Trace <code>${result.query}</code></h1>${result.traces.map((t) => one(t, csrf))}`;
}

function one(t: MessageTrace, csrf: string): Html {
  const l = t.ledger;
  const rows: [string, unknown][] = [
    ['State', html`<span class="badge ${l.state === 'delivered' ? 'ok' : l.state === 'dead' ? 'bad' : l.state === 'pending' ? 'warn' : ''}" data-state="${l.state}">${l.state}</span>`],
    ['Attempts', `${l.attempts}${l.maybeSent ? ' — may already be on the other side; it is looked up before any re-send' : ''}`],
    ['Last error', l.lastError ?? '—'],
    ['Direction', l.direction],
    ['Source', `${l.source} (${l.event})`],
    ['Lane', html`${l.lane.instance} / <span class="mono">${l.lane.chat}</span>`],
    ['From me', l.fromMe ? 'yes' : 'no'],
    ['WhatsApp time', when(l.waTs * 1000)],
    ['Received', when(l.receivedAt)],
    ['Delivered', when(l.deliveredAt)],
    ...(l.state === 'pending' ? ([['Next attempt', when(l.nextAttemptAt)]] as [string, unknown][]) : []),
    ['Chatwoot ids', l.cwConversationId === null && l.cwMessageId === null ? '—' : `conversation ${l.cwConversationId ?? '—'}, message ${l.cwMessageId ?? '—'}`],
    ...(l.sentWaId ? ([['Sent as', l.sentWaId]] as [string, unknown][]) : []),
    ...(l.waStatus ? ([['WhatsApp status', l.waStatus]] as [string, unknown][]) : []),
  ];
  const actions =
    l.state === 'dead'
      ? html`<p>${(['retry', 'discard'] as const).map(
          (a) => html`<form method="post" action="/messages/${l.id}/${a}" style="display:inline;margin-right:6px"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="instance" value="${l.instance}"><input type="hidden" name="return" value="/trace/${encodeURIComponent(l.waId)}"><button class="${a === 'retry' ? 'primary' : 'danger'}" type="submit">${a === 'retry' ? 'Retry' : 'Discard'}</button></form>`,
        )}</p>`
      : '';
  return html`<section class="card" style="margin-bottom:14px" data-trace="${l.id}"><h3>Ledger #${l.id} · <span class="mono">${l.waId}</span></h3>
<table><tbody>${rows.map(([k, v]) => html`<tr><th style="width:160px">${k}</th><td>${v}</td></tr>`)}</tbody></table>${actions}
<h2>Payload</h2><pre>${JSON.stringify(l.message, null, 2)}</pre>
<h2>Chatwoot</h2>${remote(t.chatwoot)}
<h2>Evolution</h2>${remote(t.evolution)}</section>`;
}

function remote<T>(v: RemoteView<T>): Html {
  if (v.status === 'found') return html`<pre>${JSON.stringify(v.value, null, 2)}</pre>`;
  const cls = v.status === 'error' ? 'bad' : v.status === 'not_found' ? 'warn' : '';
  return html`<p><span class="badge ${cls}">${v.status.replace('_', ' ')}</span> ${v.detail}</p>`;
}
