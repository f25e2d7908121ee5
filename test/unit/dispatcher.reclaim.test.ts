import { describe, expect, it } from 'vitest';
import type { ClaimedLane, Completion, CompletionResult, LedgerMessage } from '../../src/ledger/ledger.js';
import type { GroupCommitter } from '../../src/lib/group-commit.js';
import { createLogger } from '../../src/lib/logger.js';
import { Dispatcher, type LaneHandler } from '../../src/lanes/dispatcher.js';
import { systemClock } from '../../src/lib/clock.js';
import { laneLedger } from '../helpers/lane-ledger.js';

/**
 * Regression (fidelity acceptance run, PostgreSQL): a worker whose completion gave its lease back
 * (next head not due yet) is still registered until its promise settles; the lane claimed again in
 * that gap was leased to this process with no worker behind it, never renewed, never reaped (a
 * process does not reap its own leases): the chat stalled until a restart.
 */
describe('dispatcher: a lane claimed again while its worker is finishing', () => {
  it('is taken up by a new worker once the old one is done, not dropped with its lease', async () => {
    const lane: ClaimedLane = { instance: 'i', chat: 'c@s.whatsapp.net', suspect: false };
    const msg = (id: number): LedgerMessage => ({ id, waId: `w${id}`, instance: 'i', chat: lane.chat, state: 'pending', nextAttemptAt: 0, attempts: 0, maybeSent: false } as unknown as LedgerMessage);
    let releaseCompletion: (r: CompletionResult) => void = () => {};
    let claims = 0;
    let heads = [msg(1)];
    const handled: number[] = [];

    const ledger = laneLedger({
      claimLanes: async () => {
        claims += 1;
        // The first claim starts the worker; the second comes while its completion is committing.
        return claims <= 2 ? [lane] : [];
      },
      startLane: async () => ({ head: heads.shift() ?? null, then: null, leaseUntil: Date.now() + 30_000 }),
    });
    const completer = {
      submit: (c: Completion) =>
        c.messageId === 1 ? new Promise<CompletionResult>((r) => (releaseCompletion = r)) : Promise.resolve({ next: null, then: null, leaseHeld: true, leaseUntil: null }),
      close: async () => {},
    } as unknown as GroupCommitter<Completion, CompletionResult>;
    const handle: LaneHandler = async (row) => {
      handled.push(row.id);
      return { state: 'delivered', cwMessageId: row.id, cwConversationId: 1 };
    };

    const d = new Dispatcher(
      { owner: 'me', concurrency: 4, leaseMs: 30_000, deadPolicy: 'skip', pollMs: 20, graceMs: 100, retryBaseMs: 10 },
      { ledger, completer, handle, clock: systemClock, logger: createLogger('silent') },
    );
    d.start();
    try {
      await until(() => claims >= 2 && handled.length === 1);
      // The lease went back with the lane due again (a second message arrived), and was claimed.
      heads = [msg(2)];
      releaseCompletion({ next: null, then: null, leaseHeld: true, leaseUntil: null });
      await until(() => handled.length === 2);
      expect(handled).toEqual([1, 2]);
    } finally {
      await d.stop();
    }
  });
});

async function until(fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
