import { describe, expect, it } from 'vitest';
import { connect } from '../../src/ledger/connect.js';
import type { Completion, CompletionResult } from '../../src/ledger/ledger.js';
import { SqlLedger, migrateLedger } from '../../src/ledger/sql-ledger.js';
import { Dispatcher, type LaneHandler } from '../../src/lanes/dispatcher.js';
import { systemClock } from '../../src/lib/clock.js';
import { GroupCommitter } from '../../src/lib/group-commit.js';
import { createLogger } from '../../src/lib/logger.js';
import { chatMessage } from '../helpers/fixtures.js';
import { cleanups, until } from '../helpers/lifecycle.js';
import { tempSqliteUrl } from '../helpers/services.js';

const cleanup = cleanups();

/** Delivers a backlog of CHATS chats × PER_CHAT messages through LANES slots and returns the order. */
async function drain(sliceMessages: number): Promise<string[]> {
  const CHATS = 6;
  const PER_CHAT = 30;
  const conn = await connect(tempSqliteUrl(), { exclusive: true });
  await migrateLedger(conn);
  const ledger = new SqlLedger(conn);
  cleanup.push(() => ledger.close());
  const chats = Array.from({ length: CHATS }, (_, i) => `5511900000${String(i).padStart(3, '0')}@s.whatsapp.net`);
  const rows = chats.flatMap((chat) => Array.from({ length: PER_CHAT }, () => ({ message: chatMessage({ chat }), direction: 'to_chatwoot' as const, source: 'webhook' as const })));
  await ledger.insertMessages(rows, 0);

  const delivered: string[] = [];
  const handle: LaneHandler = async (row) => {
    delivered.push(`${row.chat}#${row.waId}`);
    await new Promise((r) => setTimeout(r, 1));
    return { state: 'delivered', cwMessageId: delivered.length, cwConversationId: 1 };
  };
  const completer = new GroupCommitter<Completion, CompletionResult>((items) => ledger.complete(items), { maxBatch: 64 });
  const d = new Dispatcher(
    { owner: 'me', concurrency: 2, leaseMs: 30_000, deadPolicy: 'skip', pollMs: 20, graceMs: 1_000, retryBaseMs: 10, sliceMessages },
    { ledger, completer, handle, clock: systemClock, logger: createLogger('silent') },
  );
  d.start();
  cleanup.push(() => d.stop());
  await until('the backlog delivered', async () => (await ledger.counts()).pending === 0, 20_000);
  expect(delivered).toHaveLength(CHATS * PER_CHAT);
  // Each chat in its own order, each message once.
  for (const chat of chats) {
    const mine = delivered.filter((k) => k.startsWith(`${chat}#`)).map((k) => k.split('#')[1]);
    expect(mine).toEqual(rows.filter((r) => r.message.chat === chat).map((r) => r.message.waId));
  }
  return delivered.map((k) => k.split('#')[0]!);
}

/** How many deliveries happened before the last chat got its first one. */
const waitBeforeLastChat = (order: string[]) => Math.max(...[...new Set(order)].map((c) => order.indexOf(c)));

describe('dispatcher: chats take turns when there are more of them than delivery slots', () => {
  it('gives a slot back after its turn, so every waiting chat moves early', async () => {
    const order = await drain(5);
    // 6 chats, 2 slots, turns of 5: the sixth chat starts after a few turns, not after two whole backlogs.
    expect(waitBeforeLastChat(order)).toBeLessThanOrEqual(5 * 6);
  });

  it('without turns, the chats beyond the slots wait for whole backlogs (what turns prevent)', async () => {
    const order = await drain(1_000_000);
    expect(waitBeforeLastChat(order)).toBeGreaterThanOrEqual(30 * 4);
  });
});
