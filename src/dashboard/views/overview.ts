import type { LedgerMessage, ReconcileRun } from '../../ledger/ledger.js';
import { type Html, html } from '../html.js';
import type { InstanceSummary, Overview } from '../overview-model.js';
import { DEAD_LIST_LIMIT } from '../overview-model.js';
import { throughputChart } from './chart.js';
import { count, duration, when } from './format.js';

export interface OverviewExtras {
  csrf: string;
  /** Upstreams delivery is paused on right now, with why. */
  paused: { name: string; reason: string | null; until: number }[];
  rabbitmq: string | null;
  reconcileConfigured: boolean;
  reconcileWindowMs: number;
}

/**
 * The overview page. Its parts marked `data-live` are also served alone by /live/overview (see
 * `overviewLiveParts`), which the page's script swaps in when something changed: one rendering,
 * whether the page is loaded or updated. The badge stays hidden unless the script runs.
 */
export function overviewView(o: Overview, x: OverviewExtras): Html {
  return html`<h1>Overview <span id="live-state" class="badge" hidden></span></h1>
${summaryPart(o, x)}
<h2 id="reconcile">Reconcile runs</h2>${reconcileForm(o, x)}
${runsPart(o)}`;
}

/** The parts of the overview that change as evosync works, as the page has them. */
export function overviewLiveParts(o: Overview, x: OverviewExtras): Html {
  return html`${summaryPart(o, x)}${runsPart(o)}`;
}

function summaryPart(o: Overview, x: OverviewExtras): Html {
  return html`<div id="live-summary" data-live><div class="stats card" style="margin-bottom:14px">
  <div data-stat="pending"><b>${count(o.counts.pending)}</b><span class="muted">pending</span></div>
  <div data-stat="delivered"><b>${count(o.counts.delivered)}</b><span class="muted">delivered</span></div>
  <div data-stat="skipped"><b>${count(o.counts.skipped)}</b><span class="muted">skipped</span></div>
  <div data-stat="dead"><b class="${o.counts.dead > 0 ? 'bad badge' : ''}">${count(o.counts.dead)}</b><span class="muted">dead</span></div>
  <div data-stat="refused"><b>${count(o.counts.refused)}</b><span class="muted">refused input</span></div>
  <div><b>${x.paused.length === 0 ? html`<span class="badge ok">delivering</span>` : html`<span class="badge warn">paused</span>`}</b><span class="muted">Chatwoot</span></div>
  ${x.rabbitmq ? html`<div><b><span class="badge ${x.rabbitmq === 'connected' ? 'ok' : 'bad'}">${x.rabbitmq}</span></b><span class="muted">RabbitMQ</span></div>` : ''}
</div>
${x.paused.map((p) => html`<div class="notice">Delivery to ${p.name} paused until ${when(p.until)}: ${p.reason ?? 'upstream fault'}. Messages wait; no attempt is used up.</div>`)}
<h2>Instances</h2>
${o.instances.length === 0 ? html`<p class="muted">No instance has sent anything yet.</p>` : html`<div class="cards">${o.instances.map(instanceCard)}</div>`}
${deadSection(o, x.csrf)}</div>`;
}

function instanceCard(s: InstanceSummary): Html {
  const state = s.connection?.state ?? null;
  const cls = state === 'open' ? 'ok' : state === null ? '' : 'bad';
  return html`<section class="card" data-instance="${s.instance}"><h3>${s.instance} <span class="badge ${cls}" title="${s.connection ? `since ${when(s.connection.updatedAt)}` : 'no connection.update received yet'}">${state ?? 'state unknown'}</span></h3>
<div class="stats">
  <div data-stat="pending"><b>${count(s.pending)}</b><span class="muted">pending</span></div>
  <div data-stat="dead"><b class="${s.dead > 0 ? 'badge bad' : ''}">${count(s.dead)}</b><span class="muted">dead</span></div>
  <div data-stat="received-hour"><b>${count(s.receivedLastHour)}</b><span class="muted">in, last hour</span></div>
  <div data-stat="delivered-hour"><b>${count(s.deliveredLastHour)}</b><span class="muted">delivered, last hour</span></div>
  <div><b>${s.lagMsAvg === null ? '—' : duration(s.lagMsAvg)}</b><span class="muted">avg lag${s.lagMsMax === null ? '' : ` (max ${duration(s.lagMsMax)})`}</span></div>
</div>
${throughputChart(s.points)}</section>`;
}

function deadSection(o: Overview, csrf: string): Html {
  const title = html`<h2 id="dead">Dead messages ${o.counts.dead > o.dead.length ? html`<span class="muted small">(oldest ${DEAD_LIST_LIMIT} of ${count(o.counts.dead)})</span>` : ''}</h2>`;
  if (o.dead.length === 0) return html`${title}<p class="muted">None. Every message was delivered, is on its way, or was skipped with a reason.</p>`;
  return html`${title}<table><thead><tr><th>Instance / chat</th><th>Message</th><th>Attempts</th><th>Reason</th><th>Received</th><th></th></tr></thead><tbody>
${o.dead.map((m) => deadRow(m, csrf))}</tbody></table>`;
}

function deadRow(m: LedgerMessage, csrf: string): Html {
  return html`<tr data-message="${m.waId}"><td>${m.instance}<br><span class="mono small">${m.chat}</span></td>
<td><a class="mono" href="/trace/${encodeURIComponent(m.waId)}">${m.waId}</a><br><span class="small muted">${m.event} · ${m.direction}</span></td>
<td>${m.attempts}</td><td class="err">${m.lastError ?? '—'}</td><td class="small">${when(m.receivedAt)}</td>
<td><form method="post" action="/messages/${m.id}/retry"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="instance" value="${m.instance}"><button class="primary" type="submit">Retry</button></form>
<form method="post" action="/messages/${m.id}/discard"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="instance" value="${m.instance}"><button class="danger" type="submit">Discard</button></form></td></tr>`;
}

/** Outside the live parts: an update must not reset the instance an operator is choosing. */
function reconcileForm(o: Overview, x: OverviewExtras): Html {
  return x.reconcileConfigured
    ? html`<form method="post" action="/reconcile" class="card" style="margin-bottom:10px"><input type="hidden" name="csrf" value="${x.csrf}">
Compare the last ${duration(x.reconcileWindowMs)} of Evolution's stored messages with the ledger for
<select name="instance" aria-label="instance">${o.instances.map((s) => html`<option>${s.instance}</option>`)}</select>
and deliver what is missing: <button class="primary" type="submit">Reconcile now</button></form>`
    : html`<p class="muted">Reconciliation needs EVOLUTION_URL and EVOLUTION_API_KEY.</p>`;
}

function runsPart(o: Overview): Html {
  return html`<div id="live-runs" data-live>${o.runs.length === 0 ? html`<p class="muted">No run yet.</p>` : html`<table><thead><tr><th>Started</th><th>Instance</th><th>Trigger</th><th>Window</th><th>Compared</th><th>Missing</th><th>Repaired</th><th>Unusable</th><th title="Chatwoot → WhatsApp: agent replies missing from the ledger / fed into delivery">Agent replies missing / repaired</th><th>Took</th><th>Result</th></tr></thead><tbody>
${o.runs.map(runRow)}</tbody></table>`}</div>`;
}

function runRow(r: ReconcileRun): Html {
  return html`<tr><td class="small">${when(r.startedAt)}</td><td>${r.instance}${r.chat ? html`<br><span class="mono small">${r.chat}</span>` : ''}</td><td>${r.trigger}</td>
<td class="small">${duration(r.windowTo - r.windowFrom)}</td><td>${count(r.compared)}</td><td>${count(r.missing)}</td><td>${count(r.repaired)}</td><td>${count(r.unusable)}</td><td>${count(r.agentMissing)} / ${count(r.agentRepaired)}</td>
<td>${duration(r.durationMs)}</td><td>${r.error ? html`<span class="badge bad">error</span> <span class="small">${r.error}</span>` : html`<span class="badge ok">ok</span>`}</td></tr>`;
}
