import type { Ledger } from '../../src/ledger/ledger.js';

/**
 * The ledger as a dispatcher sees it, for unit tests of the dispatcher alone: every lane method a
 * dispatcher calls, answering "nothing to do", with the test's own claims and starts on top.
 */
export function laneLedger(over: Pick<Ledger, 'claimLanes' | 'startLane'>): Ledger {
  return {
    settleLane: async () => {},
    renewLeases: async () => 0,
    reapExpiredLeases: async () => 0,
    nextDueAt: async () => null,
    releaseLanes: async () => 0,
    abandonLane: async () => {},
    ...over,
  } as unknown as Ledger;
}
