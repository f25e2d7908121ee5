import { afterAll, describe, it } from 'vitest';
import { createTestDatabase, postgresAvailable } from '../helpers/services.js';
import { runLosslessScenario } from './lossless.scenario.js';

if (await postgresAvailable()) {
  const db = await createTestDatabase();
  afterAll(() => db.drop());
  it('2,000 messages in 50 chats reach Chatwoot exactly once and in order through faults, an outage and kill -9 (PostgreSQL)', async () => {
    await runLosslessScenario({ databaseUrl: db.url, messages: Number(process.env.E2E_MESSAGES ?? 2000), chats: 50, outageMs: Number(process.env.E2E_OUTAGE_MS ?? 30_000), seed: 12 });
  }, 700_000);
} else {
  describe.skip('lossless scenario (postgres): PostgreSQL unreachable', () => it('skipped', () => {}));
}
