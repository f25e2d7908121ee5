import { ledgerConformance } from './ledger.conformance.js';
import { tempSqliteUrl } from '../helpers/services.js';

ledgerConformance('sqlite', async () => ({ url: tempSqliteUrl(), drop: async () => {} }));

