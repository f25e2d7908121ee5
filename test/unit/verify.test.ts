import { describe, expect, it } from 'vitest';
import { verify } from '../../sim/verify.js';

const e = (waId: string, chat: string, timestamp: number) => ({ instance: 'i', waId, chat, timestamp });
const s = (waId: string, seq: number, conversationId = 1) => ({ sourceId: `WAID:${waId}`, conversationId, seq });

describe('verify', () => {
  it('counts missing, duplicated and split chats', () => {
    const v = verify([e('a', 'c1', 1), e('b', 'c1', 2), e('c', 'c2', 1)], [s('a', 1), s('a', 2), s('b', 3, 2), { sourceId: null, conversationId: 1, seq: 4 }]);
    expect(v).toMatchObject({ sent: 3, delivered: 2, missing: 1, duplicated: 1, splitChats: 1, missingIds: ['c'], duplicatedIds: ['a'] });
  });

  it('blames evosync only for disorder it could have avoided', () => {
    const expected = [e('a', 'c', 1), e('b', 'c', 2), e('x', 'd', 1), e('y', 'd', 2)];
    const shown = [s('b', 1), s('a', 2), s('y', 3, 2), s('x', 4, 2)];
    const timings = [
      { waId: 'a', receivedAt: 100, deliveredAt: 300 }, { waId: 'b', receivedAt: 150, deliveredAt: 200 }, // a was there in time
      { waId: 'x', receivedAt: 900, deliveredAt: 950 }, { waId: 'y', receivedAt: 100, deliveredAt: 200 }, // x came too late
    ];
    expect(verify(expected, shown, timings)).toMatchObject({ outOfOrder: 1, lateArrivals: 1 });
  });

  it('counts a message that arrived while a newer one was already being sent as late, not misordered', () => {
    const expected = [e('old', 'c', 1), e('new', 'c', 2)];
    const shown = [s('new', 1), s('old', 2)];
    // "old" arrived at 180: after "new" was sent (150) but before Chatwoot answered (200).
    const inFlight = [{ waId: 'new', receivedAt: 100, deliveredAt: 200, sentAt: 150 }, { waId: 'old', receivedAt: 180, deliveredAt: 260, sentAt: 240 }];
    expect(verify(expected, shown, inFlight)).toMatchObject({ outOfOrder: 0, lateArrivals: 1 });
    // Had it arrived before the send began, showing it second is evosync's fault.
    const inTime = [{ waId: 'new', receivedAt: 100, deliveredAt: 200, sentAt: 150 }, { waId: 'old', receivedAt: 120, deliveredAt: 260, sentAt: 240 }];
    expect(verify(expected, shown, inTime)).toMatchObject({ outOfOrder: 1, lateArrivals: 0 });
  });

  it('treats equal timestamps as ordered by arrival (no violation)', () => {
    expect(verify([e('a', 'c', 5), e('b', 'c', 5)], [s('b', 1), s('a', 2)]).outOfOrder).toBe(0);
  });
});
