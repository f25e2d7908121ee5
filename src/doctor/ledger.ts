import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Migrator } from 'kysely';
import { coerceError } from '../errors.js';
import { type Connection, connect, parseDatabaseUrl } from '../ledger/connect.js';
import { migrationProvider } from '../ledger/migrations.js';
import { type CheckResult, fail, ok, warn } from './types.js';

/** Applied and pending migrations of a connected ledger; reads only (never creates the table). */
export async function checkMigrations(conn: Connection): Promise<CheckResult> {
  const migrator = new Migrator({ db: conn.db, provider: migrationProvider(conn.dialect) });
  const all = await migrator.getMigrations();
  const pending = all.filter((m) => m.executedAt === undefined).map((m) => m.name);
  if (pending.length === 0) return ok('ledger', `${conn.dialect} ledger reachable, ${all.length} migrations applied`);
  return warn(
    'ledger',
    `${conn.dialect} ledger reachable, ${pending.length} of ${all.length} migrations pending (${pending.join(', ')})`,
    'run `evosync migrate` (`evosync start` applies them too)',
  );
}

/**
 * Connects without the SQLite process lock (so it works beside a running service) and checks the
 * migrations. A missing SQLite file is not created: that is `start`'s or `migrate`'s job.
 */
export async function checkLedger(databaseUrl: string): Promise<CheckResult> {
  let conn: Connection | null = null;
  try {
    const { dialect, target } = parseDatabaseUrl(databaseUrl);
    if (dialect === 'sqlite' && target !== ':memory:' && !existsSync(target)) {
      const dir = dirname(resolve(target));
      if (!existsSync(dir)) return fail('ledger', `SQLite ledger ${target}: directory ${dir} does not exist`, 'create the directory or change EVOSYNC_DATABASE_URL');
      return warn('ledger', `SQLite ledger ${target} does not exist yet`, 'run `evosync migrate` (or `evosync start`, which creates it)');
    }
    conn = await connect(databaseUrl, { exclusive: false });
    return await checkMigrations(conn);
  } catch (error) {
    return fail('ledger', `ledger unreachable: ${coerceError(error).message}`, 'check EVOSYNC_DATABASE_URL and that the database is up');
  } finally {
    await conn?.close().catch(() => {});
  }
}
