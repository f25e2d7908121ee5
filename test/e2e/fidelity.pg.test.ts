import { afterAll, describe, it } from 'vitest';
import { createTestDatabase, postgresAvailable } from '../helpers/services.js';
import { runFidelityScenario } from './fidelity.scenario.js';

if (await postgresAvailable()) {
  const db = await createTestDatabase();
  afterAll(() => db.drop());
  it('1,000 mixed messages from three LID conventions, with edits, revokes, early receipts and faults on both sides: each once, in order, one contact per person (PostgreSQL)', { timeout: 150_000 }, () =>
    runFidelityScenario({
      databaseUrl: db.url,
      seed: 4343,
      runs: [
        { convention: '2.3.6', messages: 400, chats: 30, inlineMedia: true },
        { convention: '2.3.7', messages: 400, chats: 30, inlineMedia: false },
        { convention: '2.3.4', messages: 200, chats: 15, inlineMedia: true },
      ],
    }),
  );
} else {
  describe.skip('full conversation fidelity (postgres): PostgreSQL unreachable', () => it('skipped', () => {}));
}
