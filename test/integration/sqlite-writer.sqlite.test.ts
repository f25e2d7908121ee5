import { describe, expect, it } from 'vitest';
import { connect } from '../../src/ledger/connect.js';
import type { NewMessage } from '../../src/ledger/ledger.js';
import { SqlLedger, migrateLedger } from '../../src/ledger/sql-ledger.js';
import { ThreadBatches } from '../../src/ledger/sqlite-writer.js';
import { chatMessage } from '../helpers/fixtures.js';
import { cleanups } from '../helpers/lifecycle.js';
import { tempSqliteUrl } from '../helpers/services.js';

const cleanup = cleanups();
const after = { add: (fn: () => Promise<void>) => cleanup.push(fn) };

async function threadedLedger(): Promise<{ ledger: SqlLedger; batches: ThreadBatches; url: string; conn: Awaited<ReturnType<typeof connect>> }> {
  const url = tempSqliteUrl();
  const conn = await connect(url, { exclusive: true });
  await migrateLedger(conn);
  const ledger = new SqlLedger(conn);
  after.add(() => ledger.close());
  expect(conn.batches).toBeInstanceOf(ThreadBatches);
  return { ledger, batches: conn.batches as ThreadBatches, url, conn };
}

const rows = (n: number, chat: string): NewMessage[] =>
  Array.from({ length: n }, () => ({ message: chatMessage({ chat }), direction: 'to_chatwoot' as const, source: 'webhook' as const }));

describe('SQLite writer thread', () => {
  it('is used by the service connection, not by tools or in-memory ledgers', async () => {
    const { batches } = await threadedLedger();
    expect(batches.thread).not.toBeNull();
    const tool = await connect(tempSqliteUrl());
    after.add(() => tool.close());
    expect(tool.batches).not.toBeInstanceOf(ThreadBatches);
    const memory = await connect('sqlite::memory:', { exclusive: true });
    after.add(() => memory.close());
    expect(memory.batches).not.toBeInstanceOf(ThreadBatches);
  });

  it('lets main-thread transactions that read then write run beside it without SQLITE_BUSY', async () => {
    const { ledger, conn } = await threadedLedger();
    const chats = Array.from({ length: 20 }, (_, i) => `55119000${String(i).padStart(4, '0')}@s.whatsapp.net`);
    // Writes on the thread, continuously...
    const writes = (async () => {
      for (let i = 0; i < 200; i++) await ledger.insertMessages(rows(5, chats[i % chats.length]!), 1_000 + i);
    })();
    // ...while the main connection reads, waits (the thread commits meanwhile), then writes:
    // a deferred transaction fails here with SQLITE_BUSY_SNAPSHOT, an immediate one waits its turn.
    let transactions = 0;
    const reads = (async () => {
      for (let i = 0; i < 100; i++) {
        await conn.db.transaction().execute(async (trx) => {
          const n = await trx.selectFrom('lanes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
          await new Promise((r) => setTimeout(r, 2));
          await trx.updateTable('lanes').set({ suspect: 0 }).where('due_at', '<', -Number(n.n)).execute();
        });
        transactions += 1;
      }
    })();
    await Promise.all([writes, reads]);
    expect(transactions).toBe(100);
    expect((await ledger.counts()).pending).toBe(1_000);
  });

  it('answers with the same results as inline batches, across many concurrent requests', async () => {
    const { ledger } = await threadedLedger();
    const batch = rows(50, '5511900000001@s.whatsapp.net');
    const results = await Promise.all([ledger.insertMessages(batch, 1), ledger.insertMessages(batch.slice(0, 10), 2), ledger.insertMessages(rows(3, '5511900000002@s.whatsapp.net'), 3)]);
    expect(results[0]).toEqual(Array(50).fill('inserted'));
    expect(results[1]).toEqual(Array(10).fill('duplicate'));
    expect(results[2]).toEqual(Array(3).fill('inserted'));
  });

  it('when the thread dies, what it held is retried inline: nothing lost, nothing doubled', async () => {
    const { ledger, batches } = await threadedLedger();
    const thread = batches.thread!;
    const chat = '5511900000003@s.whatsapp.net';
    const first = rows(100, chat);
    const inFlight = ledger.insertMessages(first, 1);
    await thread.terminate();
    // Whether or not the thread committed before it died, the retry reports each row once.
    const r = await inFlight;
    expect(r).toHaveLength(100);
    expect(batches.thread).toBeNull();
    expect(await ledger.insertMessages(rows(7, chat), 2)).toEqual(Array(7).fill('inserted'));
    const listed = await ledger.listMessages({ chat, instance: 'inst1', limit: 1_000 });
    expect(listed).toHaveLength(107);
    expect(new Set(listed.map((m) => m.waId)).size).toBe(107);
    const claimed = await ledger.claimLanes('A', 10, 10, 30_000);
    expect(claimed.map((l) => l.chat)).toEqual([chat]);
    const head = await ledger.laneHead('inst1', chat, 'skip');
    const [done] = await ledger.complete([{ messageId: head!.id, instance: 'inst1', chat, owner: 'A', outcome: { state: 'delivered', cwMessageId: 1, cwConversationId: 1 }, keepLeaseUntil: 40_000, nowMs: 10, deadPolicy: 'skip' }]);
    expect(done?.leaseHeld).toBe(true);
    expect(done?.next?.waId).toBe(listed[1]?.waId);
  });

  it('finishes what it was sent before the ledger closes', async () => {
    const url = tempSqliteUrl();
    const conn = await connect(url, { exclusive: true });
    await migrateLedger(conn);
    const ledger = new SqlLedger(conn);
    const pending = Array.from({ length: 20 }, (_, i) => ledger.insertMessages(rows(10, `55119000001${i}@s.whatsapp.net`), 1));
    const closed = ledger.close();
    expect((await Promise.all(pending)).flat()).toEqual(Array(200).fill('inserted'));
    await closed;
    const check = new SqlLedger(await connect(url));
    after.add(() => check.close());
    expect((await check.counts()).pending).toBe(200);
  });
});
