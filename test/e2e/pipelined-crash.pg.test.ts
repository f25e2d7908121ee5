import { afterAll, describe, it } from 'vitest';
import { createTestDatabase, postgresAvailable } from '../helpers/services.js';
import { runPipelinedCrash } from './pipelined-crash.scenario.js';

if (await postgresAvailable()) {
  const db = await createTestDatabase();
  afterAll(() => db.drop());
  it('messages sent while the previous outcome commits are looked up after kill -9, never sent twice (PostgreSQL)', async () => {
    await runPipelinedCrash(db.url);
  }, 400_000);
} else {
  describe.skip('pipelined crash (postgres): PostgreSQL unreachable', () => it('skipped', () => {}));
}
