import type { AlertEvent, AlertKind } from './kinds.js';

const TITLES: Record<AlertKind, string> = {
  backlog: 'Delivery backlog',
  dead_messages: 'Dead messages',
  delivery_paused: 'Delivery paused',
  instance_disconnected: 'WhatsApp instance disconnected',
  reconcile_repaired: 'Reconcile repaired messages',
};

/** "42s", "3m 12s", "2h 5m", "1d 3h": an operator reads these, not a parser. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** One line a person reads in Slack, a chat room or a Chatwoot private note. */
export function alertText(e: AlertEvent): string {
  if (e.status === 'firing') return `[evosync FIRING] ${TITLES[e.kind]}: ${e.summary}`;
  return `[evosync RECOVERED] ${TITLES[e.kind]} (lasted ${formatDuration(e.at - e.startedAt)}): ${e.summary}`;
}

export interface AlertPayload {
  /** Slack (and Mattermost, Rocket.Chat, Google Chat) incoming webhooks show this. */
  text: string;
  service: 'evosync';
  host: string;
  alert: AlertKind;
  key: string;
  status: 'firing' | 'recovered';
  title: string;
  summary: string;
  details: AlertEvent['details'];
  startedAt: string;
  at: string;
  /** Only when recovered: how long the incident lasted. */
  durationMs: number | null;
}

/** The webhook body: Slack-compatible `text` plus structured fields for machines. */
export function alertPayload(e: AlertEvent, host: string): AlertPayload {
  return {
    text: alertText(e),
    service: 'evosync',
    host,
    alert: e.kind,
    key: e.key,
    status: e.status,
    title: TITLES[e.kind],
    summary: e.summary,
    details: e.details,
    startedAt: new Date(e.startedAt).toISOString(),
    at: new Date(e.at).toISOString(),
    durationMs: e.status === 'recovered' ? e.at - e.startedAt : null,
  };
}
