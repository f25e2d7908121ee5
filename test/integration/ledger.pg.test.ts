import { describe, it } from 'vitest';
import { ledgerConformance } from './ledger.conformance.js';
import { createTestDatabase, postgresAvailable } from '../helpers/services.js';

if (await postgresAvailable()) {
  ledgerConformance('postgres', createTestDatabase);
} else {
  describe.skip('ledger conformance (postgres): PostgreSQL unreachable', () => it('skipped', () => {}));
}
