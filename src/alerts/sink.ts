import type { AlertEvent, AlertSinkName } from './kinds.js';

/** A place alerts are sent to. `send` throws when the alert did not arrive; it is retried next tick. */
export interface AlertSink {
  readonly name: AlertSinkName;
  send(event: AlertEvent, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
