/** An instance's last reported WhatsApp connection state (from `connection.update`). */
export interface InstanceState {
  instance: string;
  /** open | connecting | close (Evolution's words). */
  state: string;
  statusReason: number | null;
  at: number;
}

/**
 * Connection states as intake commits them. Kept in memory: the ledger's instances table is
 * written by intake but not read back by any port method, so after a restart an instance is
 * unknown (no alert) until its next `connection.update`, which Evolution sends on every change.
 */
export class InstanceStates {
  readonly #states = new Map<string, InstanceState>();

  record(instance: string, state: string, statusReason: number | null, at: number): void {
    this.#states.set(instance, { instance, state, statusReason, at });
  }

  list(): InstanceState[] {
    return [...this.#states.values()];
  }
}
