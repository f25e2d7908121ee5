import { loadConfig } from '../config/load.js';
import { connect } from '../ledger/connect.js';
import { migrateLedger } from '../ledger/sql-ledger.js';

export async function migrateCommand(env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<void> {
  const config = loadConfig(env, { require: 'database' });
  const conn = await connect(config.database.url, { exclusive: true });
  try {
    const applied = await migrateLedger(conn);
    out(applied.length ? `applied: ${applied.join(', ')}` : 'ledger is up to date');
  } finally {
    await conn.close();
  }
}
