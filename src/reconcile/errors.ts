/**
 * Why a reconcile or check could not run. The codes are stable (they appear in API replies and CLI
 * output), like the ones in src/errors.ts, but local to reconciliation.
 */
export type ReconcileErrorCode =
  | 'RECONCILE_NOT_CONFIGURED' // EVOLUTION_URL / EVOLUTION_API_KEY unset
  | 'RECONCILE_BUSY' // a run for this instance is already going
  | 'RECONCILE_INPUT_INVALID' // bad instance, window or chat
  | 'RECONCILE_STOPPED' // the service is shutting down
  | 'EVOLUTION_FAILED' // findMessages failed
  | 'CHATWOOT_FAILED'; // a Chatwoot read failed (check)

export class ReconcileError extends Error {
  readonly code: ReconcileErrorCode;
  constructor(code: ReconcileErrorCode, message: string) {
    super(message);
    this.name = 'ReconcileError';
    this.code = code;
  }
}

export const NOT_CONFIGURED_MESSAGE = 'reconciliation needs EVOLUTION_URL and EVOLUTION_API_KEY (Evolution\'s stored messages are what it compares against)';
