import { ledgerConformance } from './ledger.conformance.js';
import { tempSqliteUrl } from '../helpers/services.js';

const sqlite = async () => ({ url: tempSqliteUrl(), drop: async () => {} });

// The service's connection writes its hot batches on a thread; tools and in-memory ledgers write
// them inline. Both must behave the same.
ledgerConformance('sqlite, writer thread', sqlite, { writerThread: true });
ledgerConformance('sqlite, inline', sqlite, { writerThread: false });
