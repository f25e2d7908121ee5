/**
 * The alerts evosync raises about itself. Each kind is a metric label value, so the set is fixed;
 * what varies (the instance, the upstream) goes into the alert's key, never into a label.
 */
export const ALERT_KINDS = ['backlog', 'dead_messages', 'delivery_paused', 'instance_disconnected', 'reconcile_repaired'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** Where an alert is sent besides the log. */
export const ALERT_SINKS = ['webhook', 'chatwoot'] as const;
export type AlertSinkName = (typeof ALERT_SINKS)[number];

export type AlertDetails = Readonly<Record<string, string | number | boolean | null>>;

/**
 * What one evaluation saw for one alert key. `active` is the condition; it must hold for `forMs`
 * before the alert fires, so a blip that clears before then is never reported.
 */
export interface Observation {
  /** Unique per incident source, e.g. `instance_disconnected:sales`. */
  key: string;
  kind: AlertKind;
  active: boolean;
  forMs: number;
  /** One human sentence describing the condition as it is now. */
  summary: string;
  details: AlertDetails;
}

/** A transition worth telling an operator about: an incident began, or it ended. */
export interface AlertEvent {
  key: string;
  kind: AlertKind;
  status: 'firing' | 'recovered';
  /** For `firing` the condition; for `recovered` what it was plus that it is over. */
  summary: string;
  details: AlertDetails;
  /** When the condition was first seen (before any `forMs` wait). */
  startedAt: number;
  /** When this transition was decided. */
  at: number;
}
