import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../src/ledger/connect.js';
import type { SqlLedger } from '../../src/ledger/sql-ledger.js';
import { chatMessage } from '../helpers/fixtures.js';
import { openPgTestLedger, postgresAvailable } from '../helpers/services.js';

/**
 * The ordering window runs from when a batch's rows become visible: a batch held up (here by another
 * transaction holding its lane) moves its messages' due time by the delay.
 * Its arrival is stamped once it holds its lanes: a lane read made while it waited could not see
 * it, so it counts as arriving after that read (a late arrival, not a misordering).
 */
if (await postgresAvailable()) {
  describe('ingest batch committed late (postgres)', () => {
    let ledger: SqlLedger;
    let other: Connection;
    let close: () => Promise<void>;
    beforeAll(async () => {
      let url: string;
      ({ ledger, url, close } = await openPgTestLedger());
      other = await connect(url);
    });
    afterAll(async () => {
      await other?.close();
      await close?.();
    });

    it('moves the due time and arrival of the messages it inserted by the delay, and of no other', async () => {
      const chat = 'late1@s.whatsapp.net';
      const first = chatMessage({ chat, timestamp: 1 });
      const now = Date.now();
      await ledger.insertMessages([{ message: first, direction: 'to_chatwoot', source: 'webhook' }], now, now + 200);
      // Another transaction holds the lane for 300 ms while the next batch tries to file into it.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const holder = other.db.transaction().execute(async (trx) => {
        await sql`select 1 from lanes where chat = ${chat} for update`.execute(trx);
        locked();
        await held;
      });
      await isLocked;
      const late = chatMessage({ chat, timestamp: 2 });
      const t = Date.now();
      const inserting = ledger.insertMessages([{ message: late, direction: 'to_chatwoot', source: 'webhook' }, { message: first, direction: 'to_chatwoot', source: 'webhook' }], t, t + 200, () => Date.now());
      await new Promise((r) => setTimeout(r, 300));
      release();
      await holder;
      expect(await inserting).toEqual(['inserted', 'duplicate']);
      const row = (await ledger.getMessage('inst1', late.waId))!;
      expect(row.nextAttemptAt).toBeGreaterThanOrEqual(t + 200 + 250);
      expect(row.receivedAt).toBeGreaterThanOrEqual(t + 250);
      // The window runs from the arrival itself: the wait for the lane is not taken from it.
      expect(row.nextAttemptAt).toBe(row.receivedAt + 200);
      // The duplicate in the batch was an earlier batch's message: its time stays.
      const earlier = (await ledger.getMessage('inst1', first.waId))!;
      expect(earlier.nextAttemptAt).toBe(now + 200);
      expect(earlier.receivedAt).toBeLessThan(t);
    });
  });
} else {
  describe.skip('ingest batch committed late (postgres): PostgreSQL unreachable', () => it('skipped', () => {}));
}
