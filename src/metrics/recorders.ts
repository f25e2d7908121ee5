import type { Direction, IngestSource } from '../domain/message.js';

/**
 * What the recording parts see of metrics: plain method calls, so the hot paths stay a counter
 * increment and nothing outside `src/metrics/` depends on prom-client. Every label value passed
 * here must come from a small fixed set (never a chat, contact or message id).
 */
export interface IngestRecorder {
  /** One accepted event's messages: `inserted` new rows, `duplicates` already in the ledger. */
  ingested(source: IngestSource, event: string, inserted: number, duplicates: number): void;
  refused(source: string, code: string): void;
  ignored(source: string): void;
}

export type DeliveryOutcome = 'delivered' | 'retry' | 'paused' | 'dead' | 'skipped';

export interface DeliveryRecorder {
  /** A recorded outcome; `latencyMs` (ingest → delivered) only for delivered messages. */
  outcome(direction: Direction, outcome: DeliveryOutcome, latencyMs: number | null): void;
  /** One request sequence sent upstream for one message (not counted while the upstream is paused). */
  attempt(direction: Direction, durationMs: number): void;
  /** A look-up before a possible re-send. */
  lookup(result: 'found' | 'not_found'): void;
}

export interface ReconcileRecorder {
  reconcileRun(trigger: string, result: 'ok' | 'error', repaired: number): void;
}

export interface InstanceRecorder {
  instanceState(instance: string, connected: boolean): void;
}

/** Alert kinds and sinks are fixed sets (see src/alerts/); an alert's key (instance, upstream) is never a label. */
export interface AlertRecorder {
  alertFired(alert: string): void;
  alertRecovered(alert: string): void;
  /** One failed attempt to send one alert to a sink (webhook, chatwoot); it is retried next tick. */
  alertSendFailed(sink: string): void;
}

export type Recorders = IngestRecorder & DeliveryRecorder & ReconcileRecorder & InstanceRecorder & AlertRecorder;

/** For the parts built outside the service (CLI reconcile, tests): records nothing. */
export const noMetrics: Recorders = {
  ingested() {},
  refused() {},
  ignored() {},
  outcome() {},
  attempt() {},
  lookup() {},
  reconcileRun() {},
  instanceState() {},
  alertFired() {},
  alertRecovered() {},
  alertSendFailed() {},
};
