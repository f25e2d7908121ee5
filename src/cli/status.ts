import { loadConfig } from '../config/load.js';
import { connect } from '../ledger/connect.js';
import { SqlLedger } from '../ledger/sql-ledger.js';

export async function statusCommand(env: NodeJS.ProcessEnv, json: boolean, out: (line: string) => void): Promise<void> {
  const config = loadConfig(env, { require: 'database' });
  // Read-only: no process lock, so it works beside a running service.
  const ledger = new SqlLedger(await connect(config.database.url, { exclusive: false }));
  try {
    const counts = await ledger.counts();
    if (json) out(JSON.stringify(counts));
    else for (const [k, v] of Object.entries(counts)) out(`${k.padEnd(10)} ${v}`);
  } finally {
    await ledger.close();
  }
}
