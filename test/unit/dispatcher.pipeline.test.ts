import { describe, expect, it } from 'vitest';
import type { LaneItem } from '../../src/domain/lane-item.js';
import type { ClaimedLane, Completion, CompletionResult, LedgerMessage } from '../../src/ledger/ledger.js';
import type { GroupCommitter } from '../../src/lib/group-commit.js';
import { createLogger } from '../../src/lib/logger.js';
import { Dispatcher, type LaneHandler } from '../../src/lanes/dispatcher.js';
import { systemClock } from '../../src/lib/clock.js';
import { chatMessage } from '../helpers/fixtures.js';
import { laneLedger } from '../helpers/lane-ledger.js';

/**
 * When the dispatcher sends a chat's next item before the previous outcome is committed. Only a
 * new WhatsApp message that does not refer to the previous one may go early: an edit of it (or a
 * delete, a receipt) and a message quoting it read its committed Chatwoot id, and sent before the
 * commit they would find it still pending. The completer here holds every commit until the test
 * lets it go, so what the handler saw meanwhile is exactly what was sent early.
 */
const lane: ClaimedLane = { instance: 'inst1', chat: 'c@s.whatsapp.net', suspect: false };
const row = (id: number, message: LaneItem): LedgerMessage =>
  ({ id, waId: message.waId, instance: 'inst1', chat: lane.chat, direction: 'to_chatwoot', event: message.event, message, state: 'pending', nextAttemptAt: 0, attempts: 0, maybeSent: false, receivedAt: 0 }) as unknown as LedgerMessage;

async function handledBeforeFirstCommit(second: (first: LedgerMessage) => LaneItem, leaseMsLeft = 30_000, firstAnswerMs = 0): Promise<{ early: boolean; starts: Map<number, number>; sentAt: Map<number, number | undefined> }> {
  const first = row(1, chatMessage({ chat: lane.chat }));
  const next = row(2, second(first));
  const handled: number[] = [];
  const starts = new Map<number, number>();
  const commits: { c: Completion; release: (r: CompletionResult) => void }[] = [];
  let claims = 0;
  const ledger = laneLedger({
    claimLanes: async () => (claims++ === 0 ? [lane] : []),
    startLane: async () => ({ head: first, then: next, leaseUntil: Date.now() + leaseMsLeft }),
  });
  const completer = {
    submit: (c: Completion) => new Promise<CompletionResult>((release) => commits.push({ c, release })),
    close: async () => {},
  } as unknown as GroupCommitter<Completion, CompletionResult>;
  const handle: LaneHandler = async (r) => {
    starts.set(r.id, Date.now());
    if (r.id === 1 && firstAnswerMs > 0) await new Promise((res) => setTimeout(res, firstAnswerMs));
    handled.push(r.id);
    return { state: 'delivered', cwMessageId: 100 + r.id, cwConversationId: 1 };
  };
  const d = new Dispatcher(
    { owner: 'me', concurrency: 1, leaseMs: 30_000, deadPolicy: 'skip', pollMs: 20, graceMs: 100, retryBaseMs: 10 },
    { ledger, completer, handle, clock: systemClock, logger: createLogger('silent') },
  );
  d.start();
  try {
    await until(() => commits.length >= 1);
    // The first outcome is being committed; give the lane a moment to (not) send the next item.
    await new Promise((r) => setTimeout(r, 50));
    const early = handled.includes(2);
    expect(commits[0]?.c.pipelined ?? null).toBe(early ? 2 : null);
    commits[0]?.release({ next: early ? null : next, then: null, leaseHeld: true, leaseUntil: Date.now() + 30_000 });
    await until(() => handled.includes(2) && commits.length >= 2);
    commits[1]?.release({ next: null, then: null, leaseHeld: true, leaseUntil: Date.now() + 30_000 });
    expect(handled).toEqual([1, 2]);
    return { early, starts, sentAt: new Map(commits.map(({ c }) => [c.messageId, c.attemptStartedAt])) };
  } finally {
    for (const c of commits) c.release({ next: null, then: null, leaseHeld: true, leaseUntil: null });
    await d.stop();
  }
}

describe('dispatcher: what goes before the previous outcome commits', () => {
  it('sends a new, unrelated message of the chat at once (pipelined)', async () => {
    expect(await handledBeforeFirstCommit(() => chatMessage({ chat: lane.chat }))).toMatchObject({ early: true });
  });

  it('holds a message quoting the previous one until that one is committed', async () => {
    const quoting = (first: LedgerMessage) => chatMessage({ chat: lane.chat, content: { type: 'conversation', text: 'as I said', media: null, quotedId: first.waId } });
    expect(await handledBeforeFirstCommit(quoting)).toMatchObject({ early: false });
  });

  it('holds an edit of the previous message until that one is committed', async () => {
    const edit = (first: LedgerMessage): LaneItem => ({
      instance: 'inst1', waId: `edit:${first.waId}`, targetWaId: first.waId, chat: lane.chat, chatPhone: null, chatLid: null, isGroup: false,
      chatKnown: true, fromMe: false, timestamp: 1_760_000_100, text: 'fixed', editedAtMs: 1_760_000_100_000, event: 'messages.edited',
    });
    expect(await handledBeforeFirstCommit(edit)).toMatchObject({ early: false });
  });

  it('does not send ahead on a lease near the end of its term (a reaper elsewhere may take it)', async () => {
    expect(await handledBeforeFirstCommit(() => chatMessage({ chat: lane.chat }), 5_000)).toMatchObject({ early: false });
  });

  it('reads the lane again after a slow answer: the choice made before the request may be stale', async () => {
    // A message older than the next one may have arrived while Chatwoot took its time.
    expect(await handledBeforeFirstCommit(() => chatMessage({ chat: lane.chat }), 30_000, 400)).toMatchObject({ early: false });
  });

  it("records a pipelined send's decision as its send time (the lane read made as the previous request began)", async () => {
    // Message 1's answer takes 80 ms (still quick enough to pipeline).
    const r = await handledBeforeFirstCommit(() => chatMessage({ chat: lane.chat }), 30_000, 80);
    expect(r.early).toBe(true);
    const [start1, start2, sent2] = [r.starts.get(1)!, r.starts.get(2)!, r.sentAt.get(2)!];
    // Message 2 was chosen by the commit made as message 1's request began, not when it went out.
    expect(start2 - start1).toBeGreaterThanOrEqual(75);
    expect(Math.abs(sent2 - start1)).toBeLessThanOrEqual(2);
    expect(Math.abs(r.sentAt.get(1)! - start1)).toBeLessThanOrEqual(2);
  });
});

async function until(fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
