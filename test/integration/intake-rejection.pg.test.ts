import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Normalized } from '../../src/evolution/normalize.js';
import { Intake } from '../../src/ingest/intake.js';
import type { SqlLedger } from '../../src/ledger/sql-ledger.js';
import { systemClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { chatMessage } from '../helpers/fixtures.js';
import { openPgTestLedger, postgresAvailable } from '../helpers/services.js';

/**
 * A message the ledger cannot store (here an instance name with a NUL, which PostgreSQL refuses in
 * text) reached past validation: the batch it came in must not fail forever. It is found by
 * halving, kept with the ledger's reason, and every other message of the batch is stored.
 */
if (await postgresAvailable()) {
  describe('ingest batch with a message the ledger refuses (postgres)', () => {
    let ledger: SqlLedger;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ ledger, close } = await openPgTestLedger());
    });
    afterAll(async () => {
      await close?.();
    });

    it('keeps the one message with its reason, stores the rest in order, and refuses only its event', async () => {
      const intake = new Intake(ledger, systemClock, createLogger('silent'), { batchMax: 2000, orderWindowMs: 0, instances: null });
      const event = (instance: string, i: number): { n: Normalized; rawBody: string } => ({
        n: { kind: 'messages', instance, event: 'messages.upsert', messages: [chatMessage({ instance, chat: `55119000${i}@s.whatsapp.net`, waId: `WA-REJ-${i}` })], skipped: [] },
        rawBody: '{}',
      });
      const events = Array.from({ length: 9 }, (_, i) => event('inst1', i));
      events.splice(5, 0, event('inst\u0000bad', 99));
      const results = await intake.acceptMany(events, 'rabbitmq');

      expect(results.map((r) => r.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'refused', 'accepted', 'accepted', 'accepted', 'accepted']);
      expect(results[5]).toMatchObject({ code: 'LEDGER_REJECTED' });
      expect(results.filter((r) => r.status === 'accepted').every((r) => r.inserted === 1)).toBe(true);
      expect(intake.counts).toMatchObject({ inserted: 9, rejected: 1 });

      const stored = await ledger.listMessages({ instance: 'inst1' });
      expect(stored.map((m) => m.waId).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `WA-REJ-${i}`).sort());
      const [kept] = await ledger.listRefused(10);
      expect(kept).toMatchObject({ code: 'LEDGER_REJECTED', source: 'rabbitmq', instance: 'inst\ufffdbad', event: 'messages.upsert' });
      expect(kept?.reason).toMatch(/^the ledger refused this message \(22/);
      expect(JSON.parse(kept!.body)).toMatchObject({ instance: 'inst\u0000bad', waId: 'WA-REJ-99' });

      // The same batch again: everything already stored is a duplicate, and the bad one is kept again
      // (input evosync could not use is kept each time it comes, like any refused input).
      const again = await intake.acceptMany(events, 'rabbitmq');
      expect(again.filter((r) => r.status === 'accepted').every((r) => r.duplicates === 1)).toBe(true);
      expect(again[5]?.status).toBe('refused');
    });
  });
} else {
  describe.skip('ingest batch with a message the ledger refuses (postgres): PostgreSQL unreachable', () => it('skipped', () => {}));
}
