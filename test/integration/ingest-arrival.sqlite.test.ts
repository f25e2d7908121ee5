import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../../src/ledger/sql-ledger.js';
import { chatMessage } from '../helpers/fixtures.js';
import { tempSqliteUrl } from '../helpers/services.js';

/**
 * A batch that needs an identity look-up first (a LID chat, an edit or receipt) waits for the
 * ledger's write lock on the service's own connection before it goes to the writer thread. Its
 * arrival is stamped as it goes to the writer, after that wait: a lane read made meanwhile could
 * not see it, and `evosync check` must count it as a late arrival, not as out of order.
 */
describe('arrival time of an ingest batch held up by the write lock (sqlite)', () => {
  let ledger: SqlLedger;
  let file: string;
  beforeAll(async () => {
    const url = tempSqliteUrl();
    file = url.slice('sqlite:'.length);
    // As the service opens it: a writer thread beside the connection.
    const conn = await connect(url, { exclusive: true });
    await migrateLedger(conn);
    ledger = new SqlLedger(conn);
  });
  afterAll(async () => {
    await ledger?.close();
  });

  it('is stamped after the wait, and the ordering window runs from there', async () => {
    // Another process holds the write lock for 300 ms (a thread of this one could not: the
    // service's connection waits for the lock synchronously, and would hold up its release).
    const holder = holdWriteLock(file, 300);
    await holder.locked;
    const message = chatMessage({ chat: '90410042123456@lid', chatPhone: null });
    const t = Date.now();
    expect(await ledger.insertMessages([{ message, direction: 'to_chatwoot', source: 'webhook' }], t, t + 200, () => Date.now())).toEqual(['inserted']);
    await holder.done;
    const row = (await ledger.getMessage('inst1', message.waId))!;
    expect(row.receivedAt).toBeGreaterThanOrEqual(t + 250);
    expect(row.nextAttemptAt).toBeGreaterThanOrEqual(t + 200 + 250);
  });

  it('a batch that needs no look-up goes to the writer at once, stamped when it was handed in', async () => {
    const message = chatMessage({ chat: '5511999990042@s.whatsapp.net' });
    const t = Date.now();
    await ledger.insertMessages([{ message, direction: 'to_chatwoot', source: 'webhook' }], t, t + 200, () => Date.now());
    const row = (await ledger.getMessage('inst1', message.waId))!;
    expect(row.receivedAt - t).toBeLessThan(50);
    expect(row.nextAttemptAt - row.receivedAt).toBe(200);
  });
});

function holdWriteLock(file: string, ms: number): { locked: Promise<void>; done: Promise<void> } {
  const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const script = `const D = require(${JSON.stringify(betterSqlite)}); const d = new D(${JSON.stringify(file)}); d.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n'); setTimeout(() => { d.exec('COMMIT'); d.close(); }, ${ms});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before locking`)));
  });
  const done = new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`lock holder exited ${code}`)))));
  return { locked, done };
}
