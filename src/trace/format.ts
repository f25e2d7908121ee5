import type { MessageTrace, RemoteView, TraceResult } from './types.js';

const iso = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString());

/** `evosync trace` as text: one block per ledger row, then what each side holds. */
export function formatTrace(result: TraceResult): string[] {
  if (result.traces.length === 0) return [`no message in the ledger with WhatsApp id or Chatwoot message id ${JSON.stringify(result.query)}`];
  const lines: string[] = [];
  result.traces.forEach((t, i) => {
    if (i > 0) lines.push('');
    lines.push(...formatOne(t));
  });
  return lines;
}

function formatOne(t: MessageTrace): string[] {
  const l = t.ledger;
  const content = (l.message as { content?: { type?: string; text?: string | null } }).content;
  const row = (k: string, v: unknown) => `  ${k.padEnd(14)} ${v === null || v === undefined || v === '' ? '—' : String(v)}`;
  const lines = [
    `message ${l.waId} (ledger #${l.id})`,
    row('state', l.state),
    row('attempts', `${l.attempts}${l.maybeSent ? ' (may already be on the other side: looked up before any re-send)' : ''}`),
    row('last error', l.lastError),
    row('direction', l.direction),
    row('source', `${l.source} (${l.event})`),
    row('lane', `${l.lane.instance} / ${l.lane.chat}`),
    row('from me', l.fromMe ? 'yes' : 'no'),
    row('whatsapp time', iso(l.waTs * 1000)),
    row('received', iso(l.receivedAt)),
    row('delivered', iso(l.deliveredAt)),
    ...(l.state === 'pending' ? [row('next attempt', iso(l.nextAttemptAt))] : []),
    row('chatwoot ids', l.cwConversationId === null && l.cwMessageId === null ? null : `conversation ${l.cwConversationId ?? '—'}, message ${l.cwMessageId ?? '—'}`),
    ...(l.sentWaId ? [row('sent as', l.sentWaId)] : []),
    ...(l.waStatus ? [row('wa status', l.waStatus)] : []),
    ...(content ? [row('content', `${content.type ?? '?'}${content.text ? `: ${oneLine(content.text)}` : ''}`)] : []),
    '  chatwoot',
    ...remote(t.chatwoot, (v) => [
      row('conversation', `${String(v.conversation['id'])} (${String(v.conversation['status'] ?? '?')}, inbox ${String(v.conversation['inbox_id'] ?? '?')})`),
      row('message', v.message ? `${String(v.message['id'])} ${String(v.message['message_type'] ?? '')} source_id ${String(v.message['source_id'] ?? '—')}: ${oneLine(String(v.message['content'] ?? ''))}` : 'no message id recorded'),
    ]),
    '  evolution',
    ...remote(t.evolution, (v) =>
      v.records.map((r) => {
        const key = (r['key'] ?? {}) as { id?: string; remoteJid?: string; fromMe?: boolean };
        return row('stored', `${key.id ?? '?'} in ${key.remoteJid ?? '?'}${key.fromMe ? ' (from me)' : ''}, ${String(r['messageType'] ?? '?')}, status ${String(r['status'] ?? '—')}`);
      }),
    ),
  ];
  return lines;
}

function remote<T>(view: RemoteView<T>, found: (v: T) => string[]): string[] {
  if (view.status === 'found') return found(view.value);
  return [`  ${view.status.replace('_', ' ').padEnd(14)} ${view.detail}`];
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}…` : flat;
}
