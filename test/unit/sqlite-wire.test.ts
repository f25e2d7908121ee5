import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Completion, CompletionOutcome } from '../../src/ledger/ledger.js';
import { MESSAGE_COLUMNS, fromRow, fromValues } from '../../src/ledger/rows.js';
import { packCompletion, unpackCompletion } from '../../src/ledger/sqlite-batch.js';

const nullableInt = fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: null });
const outcome: fc.Arbitrary<CompletionOutcome> = fc.oneof(
  fc.record({ state: fc.constant('delivered' as const), cwMessageId: nullableInt, cwConversationId: nullableInt }),
  fc.record({ state: fc.constant('skipped' as const), reason: fc.string() }),
  fc.record({ state: fc.constant('dead' as const), error: fc.string() }),
  fc.record({ state: fc.constant('retry' as const), error: fc.string(), nextAttemptAt: fc.integer({ min: 0 }), countAttempt: fc.boolean(), maybeSent: fc.boolean() }),
);
const completion: fc.Arbitrary<Completion> = fc.record(
  {
    messageId: fc.integer({ min: 1 }), instance: fc.string(), chat: fc.string(), owner: fc.string(), outcome,
    keepLeaseUntil: nullableInt, nowMs: fc.integer({ min: 0 }), deadPolicy: fc.constantFrom('skip' as const, 'hold' as const),
    attemptStartedAt: fc.integer({ min: 0 }), pipelined: fc.integer({ min: 1 }),
  },
  { requiredKeys: ['messageId', 'instance', 'chat', 'owner', 'outcome', 'keepLeaseUntil', 'nowMs', 'deadPolicy'] },
);

describe('the SQLite writer thread wire format', () => {
  it('gives back every completion exactly as it was packed, whatever its outcome', () => {
    fc.assert(fc.property(completion, (c) => {
      // Through a structured clone, as postMessage sends it.
      expect(unpackCompletion(structuredClone(packCompletion(c)))).toEqual(c);
    }));
  });

  it('reads a row given as values in column order as the same message as the row object', () => {
    const row = {
      id: 7, instance: 'i', wa_id: 'W1', chat: '5511@s.whatsapp.net', direction: 'to_chatwoot', from_me: 1, wa_ts: 1_760_000_000, source: 'webhook', event: 'messages.upsert',
      payload: JSON.stringify({ kind: 'message', text: 'hi' }), state: 'pending', attempts: 2, next_attempt_at: 5, maybe_sent: 1, last_error: 'timeout', cw_conversation_id: 3,
      cw_message_id: null, received_at: 4, updated_at: 6, delivered_at: null, sent_at: 9, sent_wa_id: null, wa_status: 'read',
    };
    const values = MESSAGE_COLUMNS.map((c) => row[c]);
    expect(fromValues(values)).toEqual(fromRow(row));
    expect(fromValues(values)).toMatchObject({ id: 7, chat: '5511@s.whatsapp.net', maybeSent: true, sentAt: 9, waStatus: 'read', lastError: 'timeout' });
  });
});
