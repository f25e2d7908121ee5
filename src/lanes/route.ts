import type { LedgerMessage } from '../ledger/ledger.js';
import type { LaneHandler } from './dispatcher.js';

/**
 * One lane carries several kinds of items (see domain/lane-item.ts); each kind has its own handler,
 * chosen by the item's direction and event. An item no handler takes is skipped with the reason
 * said, never retried forever: it can only come from a newer evosync's ledger or a bug.
 */
export type HandlerKey = `${LedgerMessage['direction']}:${string}`;

export function routeLaneItems(handlers: Partial<Record<HandlerKey, LaneHandler>>): LaneHandler {
  return async (row, lane, signal) => {
    const handler = handlers[`${row.direction}:${row.event}`];
    if (!handler) return { state: 'skipped', reason: `no handler for ${row.direction} ${row.event}` };
    return handler(row, lane, signal);
  };
}
