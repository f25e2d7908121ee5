import type { DirectionVerdict, FaultLog } from './drive.js';

export interface Column {
  title: string;
  toChatwoot: DirectionVerdict;
  toWhatsapp: DirectionVerdict;
}

const int = (n: number | null) => (n === null ? 'n/a' : n.toLocaleString('en-US'));
const secs = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);

/**
 * One markdown table, both directions, evosync beside the baseline: the same text goes to the
 * terminal and into the README, so what is published is what was printed.
 */
export function resultsTable(columns: Column[]): string {
  const head = ['', ...columns.map((c) => `${c.title}: WhatsApp → Chatwoot`), ...columns.map((c) => `${c.title}: Chatwoot → WhatsApp`)];
  const dirs = [...columns.map((c) => c.toChatwoot), ...columns.map((c) => c.toWhatsapp)];
  const rows: [string, (d: DirectionVerdict) => string][] = [
    ['expected', (d) => int(d.expected)],
    ['delivered', (d) => int(d.delivered)],
    ['**missing**', (d) => int(d.missing)],
    ['**duplicated**', (d) => int(d.duplicated)],
    ['**out of order**', (d) => int(d.outOfOrder)],
    ['**dead**', (d) => int(d.dead)],
    ['split chats', (d) => int(d.splitChats)],
    ['late arrivals (repaired, marked)', (d) => int(d.lateArrivals)],
    ['time to settle', (d) => secs(d.settleMs)],
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const [name, f] of rows) lines.push(`| ${name} | ${dirs.map(f).join(' | ')} |`);
  return lines.join('\n');
}

export function faultSummary(f: FaultLog, cw: { requests: number; errors5xx: number; rateLimited: number }): string {
  return [
    `evosync SIGKILLed ${f.kills}×, broker connections force-closed ${f.connectionsClosed}×, broker restarted ${f.brokerRestarts}×`,
    `Chatwoot: ${int(cw.errors5xx)} answers 5xx and ${int(cw.rateLimited)} 429 (in ${f.bursts} bursts) of ${int(cw.requests)} API requests, an outage of ${f.outageMs / 1000} s, timeouts after commit`,
    `Evolution: ${int(f.neverPublished)} messages never published (+${int(f.lostOnEvolutionChannel)} events lost on its own closed channel), ${int(f.publishedTwice)} published twice, receipts before their messages`,
    `agent replies written while the system was down: ${int(f.repliesWhileDown)}`,
  ].join('\n');
}
